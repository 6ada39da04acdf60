"""load_omniglot: lookup of omniglot28.npz, building it from the upstream zips, splits, rotations.

Everything but the one slow test runs on small files the tests make.
"""

import io
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.utils import Bunch

from skmeta.datasets import load_omniglot

REAL_FILE = Path(__file__).parents[3] / "shared/datasets/omniglot/omniglot28.npz"

# split -> {alphabet: number of characters}; the evaluation alphabet has 3
SPEC = {0: {"Latin": 2, "Greek": 2}, 1: {"Tengwar": 3}}
N_DRAWERS = 20


def _schema_arrays(spec=SPEC, n_drawers=N_DRAWERS, seed=0):
    """Arrays with the schema of omniglot28.npz, rows in the documented order."""
    rng = np.random.RandomState(seed)
    alphabet_keys = sorted((s, a) for s, alphas in spec.items() for a in alphas)
    char_keys = [(s, a, f"character{c:02d}") for s, a in alphabet_keys
                 for c in range(1, spec[s][a] + 1)]
    rows = [(s, a, c, d) for s, a, c in char_keys for d in range(1, n_drawers + 1)]
    n = len(rows)
    return {
        "images": rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8),
        "character": np.array([char_keys.index(r[:3]) for r in rows], dtype=np.int32),
        "alphabet": np.array([alphabet_keys.index(r[:2]) for r in rows], dtype=np.int16),
        "drawer": np.array([r[3] for r in rows], dtype=np.int8),
        "split": np.array([r[0] for r in rows], dtype=np.int8),
        "source_char_id": np.array([char_keys.index(r[:3]) + 1 for r in rows],
                                   dtype=np.int16),
        "alphabet_names": np.array([a for _, a in alphabet_keys]),
        "character_names": np.array([f"{a}/{c}" for _, a, c in char_keys]),
    }


def _write_npz(directory, **kwargs):
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = _schema_arrays(**kwargs)
    np.savez_compressed(directory / "omniglot28.npz", **arrays)
    return arrays


def _drawing(rng):
    """A 105x105 1-bit image like Omniglot's: white (True) with dark strokes."""
    img = np.ones((105, 105), dtype=bool)
    for _ in range(3):
        r, c = rng.randint(0, 95, size=2)
        h, w = rng.randint(2, 30, size=2)
        img[r:r + h, c:c + w] = False
    return img


def _png(array):
    from PIL import Image

    img = Image.fromarray(array)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _write_zips(directory, spec=SPEC, n_drawers=3, size=105, seed=0):
    """Write upstream-layout zips.

    Return their paths and {(split, alphabet, char folder, drawer): (source id, png)}.
    """
    rng = np.random.RandomState(seed)
    entries = {}
    # upstream numbers characters in an alphabet order other than the sorted one
    source = 1
    for s in (0, 1):
        for a in reversed(list(spec[s])):
            for c in range(1, spec[s][a] + 1):
                for d in range(1, n_drawers + 1):
                    img = _drawing(rng) if size == 105 else np.ones((size, size), bool)
                    entries[(s, a, f"character{c:02d}", d)] = (source, _png(img))
                source += 1
    paths = []
    for s, top in enumerate(["images_background", "images_evaluation"]):
        path = Path(directory) / f"{top}.zip"
        keys = [k for k in entries if k[0] == s]
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(f"{top}/", b"")
            for i in rng.permutation(len(keys)):  # stored in no particular order
                _, a, c, d = keys[i]
                src, png = entries[keys[i]]
                zf.writestr(f"{top}/{a}/{c}/{src:04d}_{d:02d}.png", png)
            zf.writestr("__MACOSX/._junk", b"junk")
        paths.append(path)
    return paths, entries


def _pil_28(png):
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("L")
    return np.asarray(img.resize((28, 28), resample=Image.Resampling.BOX))


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A data home holding the small schema file; $SKMETA_DATA and ~ point elsewhere."""
    monkeypatch.setenv("SKMETA_DATA", str(tmp_path / "env_home"))
    monkeypatch.setenv("HOME", str(tmp_path / "user_home"))
    arrays = _write_npz(tmp_path / "home")
    return tmp_path / "home", arrays


@pytest.fixture
def built(tmp_path, monkeypatch):
    """omniglot28.npz built from small zips into a data home that did not exist."""
    pytest.importorskip("PIL")
    monkeypatch.delenv("SKMETA_DATA", raising=False)
    zips, entries = _write_zips(tmp_path)
    target = tmp_path / "new" / "home"
    with pytest.warns(UserWarning, match="partial archives: 4 background and 3 evaluation"):
        bunch = load_omniglot(target, split="all", zips=zips)
    return target, zips, entries, bunch


# -- building from the zips ---------------------------------------------------

def test_build_writes_the_schema(built):
    target, _, entries, _ = built
    assert sorted(p.name for p in target.iterdir()) == ["omniglot28.npz"]  # no leftovers
    with np.load(target / "omniglot28.npz") as f:
        a = {k: f[k] for k in f.files}
    assert sorted(a) == sorted(["images", "character", "alphabet", "drawer", "split",
                                "source_char_id", "alphabet_names", "character_names"])
    n = len(entries)
    assert a["images"].shape == (n, 28, 28) and a["images"].dtype == np.uint8
    for key, dtype in [("character", np.int32), ("alphabet", np.int16), ("drawer", np.int8),
                       ("split", np.int8), ("source_char_id", np.int16)]:
        assert a[key].shape == (n,) and a[key].dtype == dtype, key
    assert a["alphabet_names"].tolist() == ["Greek", "Latin", "Tengwar"]
    assert a["character_names"].tolist() == [
        "Greek/character01", "Greek/character02", "Latin/character01", "Latin/character02",
        "Tengwar/character01", "Tengwar/character02", "Tengwar/character03"]
    # rows sorted by (split, alphabet, character, drawer)
    keys = sorted(entries)
    assert a["split"].tolist() == [k[0] for k in keys]
    assert a["drawer"].tolist() == [k[3] for k in keys]
    names = a["character_names"][a["character"]]
    assert names.tolist() == [f"{k[1]}/{k[2]}" for k in keys]
    assert a["alphabet_names"][a["alphabet"]].tolist() == [k[1] for k in keys]
    assert a["source_char_id"].tolist() == [entries[k][0] for k in keys]
    # the images are the zips' PNGs, converted to grey and BOX-resized, in that order
    for i, k in enumerate(keys):
        np.testing.assert_array_equal(a["images"][i], _pil_28(entries[k][1]))


def test_build_is_box_averaging_of_the_grey_image(built):
    # Pillow's BOX filter, shrinking 105 -> 28 (3.75 source pixels per output
    # pixel), gives each output pixel the mean of the source pixels whose
    # centres fall in it (3 or 4 per axis). A resize of the mode "1" image would
    # be NEAREST instead, i.e. only 0 and 255.
    target, _, entries, _ = built
    scale = 105 / 28
    offset = ((np.arange(105) + 0.5)[None, :] - (np.arange(28) + 0.5)[:, None] * scale) / scale
    W = ((offset > -0.5) & (offset <= 0.5)).astype(float)
    assert set(W.sum(axis=1)) == {3.0, 4.0}
    W /= W.sum(axis=1, keepdims=True)
    with np.load(target / "omniglot28.npz") as f:
        stored = f["images"]
    from PIL import Image

    for i, key in enumerate(sorted(entries)[:3]):
        grey = np.asarray(Image.open(io.BytesIO(entries[key][1])).convert("L"), dtype=float)
        assert set(np.unique(grey)) == {0.0, 255.0}
        by_hand = W @ grey @ W.T
        assert np.abs(stored[i] - by_hand).max() <= 1.0  # Pillow's fixed-point rounding
        assert len(np.unique(stored[i])) > 2  # grey levels at the stroke edges


def test_build_returns_what_loading_the_file_returns(built):
    target, _, _, bunch = built
    again = load_omniglot(target, split="all")
    for key in ["images", "target", "alphabet", "drawer", "target_names", "alphabet_names"]:
        np.testing.assert_array_equal(bunch[key], again[key])
    with np.load(target / "omniglot28.npz") as f:
        np.testing.assert_allclose(bunch.images, 1 - f["images"] / 255, atol=1e-7)
        np.testing.assert_array_equal(bunch.target, f["character"])


def test_zips_are_ignored_when_the_file_exists(built):
    target, _, _, bunch = built
    with np.load(target / "omniglot28.npz") as f:
        raw = f["images"].copy()
    # the zips are neither read nor checked; the file is not rewritten
    out = load_omniglot(target, split="all", zips=("no/such.zip", "nor/this.zip"))
    np.testing.assert_array_equal(out.images, bunch.images)
    with np.load(target / "omniglot28.npz") as f:
        np.testing.assert_array_equal(f["images"], raw)


def test_full_archives_do_not_warn(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    import skmeta.datasets._omniglot as mod

    # with the counts of the small zips declared "full", nothing is said
    monkeypatch.setattr(mod, "_FULL_COUNTS", {0: (2, 4), 1: (1, 3)})
    zips, _ = _write_zips(tmp_path, n_drawers=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = load_omniglot(tmp_path / "h", zips=zips)
    assert out.images.shape == (80, 28, 28)


def test_build_errors(tmp_path):
    pytest.importorskip("PIL")
    zips, _ = _write_zips(tmp_path)
    home = tmp_path / "h"
    with pytest.raises(ValueError, match=r"zips\[0\] .* images_evaluation.*in that order"):
        load_omniglot(home, zips=zips[::-1])
    with pytest.raises(FileNotFoundError, match=r"zips\[1\]: no such file: .*missing.zip"):
        load_omniglot(home, zips=(zips[0], tmp_path / "missing.zip"))
    with pytest.raises(TypeError, match="'zips' parameter of load_omniglot must be an "
                                        "array-like or None"):
        load_omniglot(home, zips=str(zips[0]))
    with pytest.raises(TypeError, match="zips must be a pair of paths"):
        load_omniglot(home, zips=zips + zips)
    with pytest.raises(TypeError, match=r"zips\[1\] must be a path"):
        load_omniglot(home, zips=(zips[0], 3))
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("readme.txt", b"nothing here")
    with pytest.raises(ValueError, match=r"zips\[1\] .*empty.zip.* holds no Omniglot images"):
        load_omniglot(home, zips=(zips[0], empty))
    small = tmp_path / "small"
    small.mkdir()
    bad_zips, _ = _write_zips(small, size=50)
    with pytest.raises(ValueError, match=r"image of size \(50, 50\), expected \(105, 105\)"):
        load_omniglot(home, zips=bad_zips)
    assert not home.exists() or not any(home.iterdir())  # nothing half-written was left


# -- where the file is looked for -----------------------------------------------

def test_lookup_data_home_argument(home):
    path, arrays = home
    for data_home in [path, str(path)]:
        out = load_omniglot(data_home, split="all")
        assert out.images.shape == (len(arrays["images"]), 28, 28)


def test_lookup_data_home_expands_user(home, monkeypatch):
    path, _ = home
    monkeypatch.setenv("HOME", str(path.parent))
    assert load_omniglot("~/home", split="all").images.shape == (140, 28, 28)


def test_lookup_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "user_home"))
    monkeypatch.setenv("SKMETA_DATA", str(tmp_path / "env_home"))
    _write_npz(tmp_path / "env_home", spec={0: {"A": 1}, 1: {"B": 1}})
    assert load_omniglot(split="all").images.shape == (40, 28, 28)


def test_lookup_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("SKMETA_DATA", raising=False)
    _write_npz(tmp_path / "skmeta_data", spec={0: {"A": 1}, 1: {"B": 2}})
    assert load_omniglot(split="all").images.shape == (60, 28, 28)
    monkeypatch.setenv("SKMETA_DATA", "")  # empty counts as unset
    assert load_omniglot(split="all").images.shape == (60, 28, 28)


def test_data_home_argument_takes_precedence(tmp_path, monkeypatch):
    _write_npz(tmp_path / "env_home", spec={0: {"A": 1}, 1: {"B": 1}})
    _write_npz(tmp_path / "arg_home", spec={0: {"A": 3}, 1: {"B": 1}})
    monkeypatch.setenv("SKMETA_DATA", str(tmp_path / "env_home"))
    assert load_omniglot(tmp_path / "arg_home").images.shape == (60, 28, 28)
    assert load_omniglot().images.shape == (20, 28, 28)


@pytest.mark.parametrize("how", ["argument", "environment", "default"])
def test_missing_file_says_where_and_what_to_do(tmp_path, monkeypatch, how):
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    monkeypatch.delenv("SKMETA_DATA", raising=False)
    if how == "environment":
        monkeypatch.setenv("SKMETA_DATA", str(tmp_path / "env"))
    data_home = tmp_path / "arg" if how == "argument" else None
    expected = {"argument": tmp_path / "arg", "environment": tmp_path / "env",
                "default": tmp_path / "user" / "skmeta_data"}[how]
    with pytest.raises(FileNotFoundError) as info:
        load_omniglot(data_home)
    msg = str(info.value)
    assert f"omniglot28.npz not found in {expected}" in msg
    assert {"argument": "data_home argument", "environment": "$SKMETA_DATA",
            "default": "default ~/skmeta_data"}[how] in msg
    assert "../shared/datasets/omniglot/omniglot28.npz" in msg
    assert "zips=" in msg and "Pillow" in msg
    assert not expected.exists()  # looking creates nothing


def test_not_an_omniglot_file(tmp_path):
    np.savez(tmp_path / "omniglot28.npz", images=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"lacks the arrays \['character'"):
        load_omniglot(tmp_path)


# -- what is returned -----------------------------------------------------------

def test_bunch_contents(home):
    path, arrays = home
    out = load_omniglot(path)
    assert isinstance(out, Bunch)
    assert sorted(out) == sorted(["images", "data", "target", "alphabet", "drawer", "rotation",
                                  "target_names", "alphabet_names", "DESCR"])
    n = 80
    assert out.images.shape == (n, 28, 28) and out.images.dtype == np.float32
    assert out.data is out.images
    for key in ["target", "alphabet", "drawer", "rotation"]:
        assert out[key].shape == (n,) and out[key].dtype == np.int64, key
    np.testing.assert_array_equal(out.target_names, arrays["character_names"])
    np.testing.assert_array_equal(out.alphabet_names, arrays["alphabet_names"])
    assert out.target_names[out.target[0]] == "Greek/character01"
    assert (out.rotation == 0).all()
    assert isinstance(out.DESCR, str) and "Lake" in out.DESCR and "80 images of 4" in out.DESCR


def test_return_X_y(home):
    path, _ = home
    X, y = load_omniglot(path, split="evaluation", return_X_y=True)
    out = load_omniglot(path, split="evaluation")
    np.testing.assert_array_equal(X, out.images)
    np.testing.assert_array_equal(y, out.target)


def test_polarity_strokes_are_one(tmp_path):
    arrays = _schema_arrays(spec={0: {"A": 1}, 1: {"B": 1}})
    arrays["images"][:] = 255           # background
    arrays["images"][:, 10:12, 5:20] = 0  # a stroke
    arrays["images"][:, 12, 5:20] = 51    # its anti-aliased edge
    np.savez(tmp_path / "omniglot28.npz", **arrays)
    images = load_omniglot(tmp_path, split="all").images
    assert (images[:, 10:12, 5:20] == 1.0).all()
    np.testing.assert_allclose(images[:, 12, 5:20], 0.8, rtol=1e-6)
    assert images.sum() == pytest.approx(40 * (30 + 15 * 0.8), rel=1e-6)
    assert images.min() == 0.0 and images.max() == 1.0


@pytest.mark.parametrize("split, n_chars, alphabets", [
    ("background", 4, ["Greek", "Latin"]),
    ("evaluation", 3, ["Tengwar"]),
    ("all", 7, ["Greek", "Latin", "Tengwar"]),
])
def test_split_selection(home, split, n_chars, alphabets):
    path, arrays = home
    out = load_omniglot(path, split=split)
    assert out.images.shape == (20 * n_chars, 28, 28)
    assert len(np.unique(out.target)) == n_chars
    assert sorted(set(out.alphabet_names[out.alphabet].tolist())) == alphabets
    # class ids are the file's global character ids, whatever the split
    keep = np.isin(arrays["split"], {"background": [0], "evaluation": [1], "all": [0, 1]}[split])
    np.testing.assert_array_equal(out.target, arrays["character"][keep])
    np.testing.assert_array_equal(out.drawer, arrays["drawer"][keep])
    np.testing.assert_allclose(out.images, 1 - arrays["images"][keep] / 255, atol=1e-7)
    assert np.bincount(out.target)[np.unique(out.target)].tolist() == [20] * n_chars


def test_evaluation_ids_follow_background_ids(home):
    path, _ = home
    assert np.unique(load_omniglot(path, split="evaluation").target).tolist() == [4, 5, 6]


@pytest.mark.parametrize("split", ["background", "evaluation", "all"])
def test_rotations(home, split):
    path, arrays = home
    plain = load_omniglot(path, split=split)
    rot = load_omniglot(path, split=split, rotations=True)
    n, n_all = len(plain.target), len(arrays["character_names"])
    assert rot.images.shape == (4 * n, 28, 28) and rot.images.dtype == np.float32
    assert rot.data is rot.images
    assert len(np.unique(rot.target)) == 4 * len(np.unique(plain.target))
    for r in range(4):
        block = slice(r * n, (r + 1) * n)
        np.testing.assert_array_equal(rot.images[block], np.rot90(plain.images, r, axes=(1, 2)))
        np.testing.assert_array_equal(rot.target[block], plain.target + r * n_all)
        np.testing.assert_array_equal(rot.alphabet[block], plain.alphabet)
        np.testing.assert_array_equal(rot.drawer[block], plain.drawer)
        assert (rot.rotation[block] == 90 * r).all()
    # every (character, rotation) is a class of its own, named after both
    assert len(rot.target_names) == 4 * n_all == len(set(rot.target_names.tolist()))
    names = rot.target_names[rot.target]
    suffix = {0: "", 90: "/rot90", 180: "/rot180", 270: "/rot270"}
    expected = [plain.target_names[c] + suffix[d]
                for c, d in zip(np.tile(plain.target, 4), rot.rotation)]
    assert names.tolist() == expected
    X, y = load_omniglot(path, split=split, rotations=True, return_X_y=True)
    np.testing.assert_array_equal(y, rot.target)


def test_rotation_is_counter_clockwise(tmp_path):
    arrays = _schema_arrays(spec={0: {"A": 1}, 1: {"B": 1}})
    arrays["images"][:] = 255
    arrays["images"][:, 0, -1] = 0  # a dot in the top-right corner
    np.savez(tmp_path / "omniglot28.npz", **arrays)
    images = load_omniglot(tmp_path, rotations=True).images
    corners = [np.argwhere(images[20 * r]).tolist() for r in range(4)]
    assert corners == [[[0, 27]], [[0, 0]], [[27, 0]], [[27, 27]]]


@pytest.mark.parametrize("split", ["train", "test", "Background", None, 0])
def test_bad_split(home, split):
    path, _ = home
    # the order of the options in the message varies from run to run
    with pytest.raises(ValueError, match=r"'split' parameter of load_omniglot must be a str "
                                         r"among \{('\w+'(, )?){3}\}. Got"):
        load_omniglot(path, split=split)


@pytest.mark.parametrize("kwargs, match", [
    ({"rotations": "yes"}, "'rotations' parameter of load_omniglot must be an instance of "
                           "'bool'"),
    ({"return_X_y": 1}, "'return_X_y' parameter of load_omniglot must be an instance of 'bool'"),
    ({"data_home": 3}, r"'data_home' parameter of load_omniglot must be an instance of 'str', "
                       r"an instance of 'os.PathLike' or None"),
])
def test_bad_argument_types(home, kwargs, match):
    path, _ = home
    kwargs = {"data_home": path, **kwargs}
    with pytest.raises(TypeError, match=match):
        load_omniglot(**kwargs)


def test_positional_arguments_beyond_data_home_are_refused(home):
    path, _ = home
    with pytest.raises(TypeError):
        load_omniglot(path, "evaluation")


@pytest.mark.slow
@pytest.mark.skipif(not REAL_FILE.is_file(), reason=f"{REAL_FILE} not present")
def test_real_file():
    bg = load_omniglot(REAL_FILE.parent)
    ev = load_omniglot(REAL_FILE.parent, split="evaluation")
    assert bg.images.shape == (19280, 28, 28) and ev.images.shape == (13180, 28, 28)
    assert len(np.unique(bg.target)) == 964 and len(np.unique(ev.target)) == 659
    assert np.unique(bg.target).tolist() == list(range(964))
    assert np.unique(ev.target).tolist() == list(range(964, 1623))
    assert len(np.unique(bg.alphabet)) == 30 and len(np.unique(ev.alphabet)) == 20
    assert len(bg.target_names) == 1623 and len(bg.alphabet_names) == 50
    assert bg.images.min() == 0.0 and bg.images.max() == 1.0
    assert 0.05 < bg.images.mean() < 0.15  # mostly background
    assert (np.bincount(bg.target) == 20).all()
    rot = load_omniglot(REAL_FILE.parent, split="evaluation", rotations=True)
    assert len(np.unique(rot.target)) == 4 * 659 and rot.images.shape == (4 * 13180, 28, 28)

"""Omniglot at 28x28: load ``omniglot28.npz``, or build it from the upstream zips.

Pillow is needed only to build the file, and is imported only then.
"""

import io
import os
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import StrOptions, validate_params

__all__ = ["load_omniglot"]

FILENAME = "omniglot28.npz"
_KEYS = ("images", "character", "alphabet", "drawer", "split", "source_char_id",
         "alphabet_names", "character_names")
_SPLITS = {"background": (0,), "evaluation": (1,), "all": (0, 1)}
_ZIP_TOPS = ("images_background", "images_evaluation")
_FULL_COUNTS = {0: (30, 964), 1: (20, 659)}  # split -> (alphabets, characters)
_FILE_RE = re.compile(r"^(\d{4})_(\d{2})\.png$")
_SRC_SIZE = (105, 105)
_SIZE = 28
_ROTATIONS = (0, 90, 180, 270)


def _get_data_home(data_home=None):
    """Return the skmeta data directory as a :class:`pathlib.Path`.

    ``data_home`` if given, else the ``SKMETA_DATA`` environment variable,
    else ``~/skmeta_data``; ``~`` is expanded. The directory is not created.
    """
    if data_home is None:
        data_home = os.environ.get("SKMETA_DATA") or os.path.join("~", "skmeta_data")
    elif not isinstance(data_home, (str, os.PathLike)):
        raise TypeError(f"data_home must be a path (str or os.PathLike) or None; "
                        f"got {type(data_home).__name__}")
    return Path(os.path.expanduser(os.fspath(data_home)))


def _where_from(data_home):
    if data_home is not None:
        return "the data_home argument"
    if os.environ.get("SKMETA_DATA"):
        return "$SKMETA_DATA"
    return "the default ~/skmeta_data, as neither data_home nor $SKMETA_DATA is set"


# ----------------------------------------------------------------------------
# building omniglot28.npz from images_background.zip and images_evaluation.zip
# (the preprocessing of ../shared/datasets/omniglot/make_omniglot28.py)

def _check_zips(zips):
    if isinstance(zips, (str, os.PathLike)) or not hasattr(zips, "__len__") or len(zips) != 2:
        raise TypeError("zips must be a pair of paths (images_background.zip, "
                        f"images_evaluation.zip); got {zips!r}")
    paths = []
    for i, z in enumerate(zips):
        if not isinstance(z, (str, os.PathLike)):
            raise TypeError(f"zips[{i}] must be a path (str or os.PathLike); "
                            f"got {type(z).__name__}")
        p = Path(os.path.expanduser(os.fspath(z)))
        if not p.is_file():
            raise FileNotFoundError(f"zips[{i}]: no such file: {p}")
        paths.append(p)
    return paths


def _read_zip(path, split, label):
    """List (split, alphabet, char folder, drawer, source id, png bytes) of one archive."""
    rows = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            if name.endswith("/") or "__MACOSX" in name:
                continue
            parts = name.split("/")
            if len(parts) < 3:
                continue
            m = _FILE_RE.match(parts[-1])
            if not m:
                continue
            wrong = _ZIP_TOPS[1 - split]
            if wrong in parts[:-3]:
                raise ValueError(
                    f"{label} ({path}) holds {name!r}, a file of {wrong}; pass "
                    "zips=(images_background.zip, images_evaluation.zip) in that order")
            rows.append((split, parts[-3], parts[-2], int(m.group(2)), int(m.group(1)),
                         zf.read(name)))
    if not rows:
        raise ValueError(f"{label} ({path}) holds no Omniglot images "
                         "(<Alphabet>/characterNN/XXXX_YY.png)")
    return rows


def _to_small(png, name, Image):
    img = Image.open(io.BytesIO(png))
    if img.size != _SRC_SIZE:
        raise ValueError(f"{name}: image of size {img.size}, expected {_SRC_SIZE}")
    # convert to "L" first: Pillow resizes mode "1" images with NEAREST whatever
    # filter is asked for
    img = img.convert("L").resize((_SIZE, _SIZE), resample=Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def _build(zips, path):
    """Build ``path`` (omniglot28.npz) from the two upstream zips; return its arrays."""
    zip_paths = _check_zips(zips)
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - Pillow is installed for the tests
        raise ImportError(
            "building omniglot28.npz from the zips needs Pillow: "
            "pip install 'skmeta[omniglot]' (or pip install Pillow)") from exc

    rows = (_read_zip(zip_paths[0], 0, "zips[0]")
            + _read_zip(zip_paths[1], 1, "zips[1]"))
    rows.sort(key=lambda r: r[:4])
    keys = [r[:4] for r in rows]
    if len(set(keys)) != len(keys):
        dup = next(k for k, n in zip(keys, keys[1:]) if k == n)
        raise ValueError(f"the zips hold the drawing {dup[1]}/{dup[2]} drawer {dup[3]} "
                         "more than once")

    alphabet_keys = sorted({r[:2] for r in rows})
    alphabet_index = {k: i for i, k in enumerate(alphabet_keys)}
    char_keys = sorted({r[:3] for r in rows})
    char_index = {k: i for i, k in enumerate(char_keys)}
    n = len(rows)
    images = np.empty((n, _SIZE, _SIZE), dtype=np.uint8)
    for i, (s, a, c, d, src, png) in enumerate(rows):
        images[i] = _to_small(png, f"{zip_paths[s].name}:{a}/{c}/{src:04d}_{d:02d}.png", Image)
    arrays = {
        "images": images,
        "character": np.array([char_index[r[:3]] for r in rows], dtype=np.int32),
        "alphabet": np.array([alphabet_index[r[:2]] for r in rows], dtype=np.int16),
        "drawer": np.array([r[3] for r in rows], dtype=np.int8),
        "split": np.array([r[0] for r in rows], dtype=np.int8),
        "source_char_id": np.array([r[4] for r in rows], dtype=np.int16),
        "alphabet_names": np.array([a for _, a in alphabet_keys]),
        "character_names": np.array([f"{a}/{c}" for _, a, c in char_keys]),
    }

    got = {s: (sum(k[0] == s for k in alphabet_keys), sum(k[0] == s for k in char_keys))
           for s in (0, 1)}
    per_char = np.bincount(arrays["character"], minlength=len(char_keys))
    if got != _FULL_COUNTS or not np.all(per_char == 20):
        warnings.warn(
            f"{path.name} was built from partial archives: {got[0][1]} background and "
            f"{got[1][1]} evaluation characters (the full Omniglot has 964 and 659, 20 "
            "drawings each)", UserWarning, stacklevel=3)

    # write next to the target and rename, so that no half-written file is left
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return arrays


def _read(path):
    with np.load(path) as f:
        missing = [k for k in _KEYS if k not in f.files]
        if missing:
            raise ValueError(f"{path} lacks the arrays {missing}; it is not an "
                             "omniglot28.npz file (rebuild it with zips=...)")
        return {k: f[k] for k in _KEYS}


# ----------------------------------------------------------------------------

DESCR = """\
Omniglot, 28x28
---------------

**Data Set Characteristics:**

:Number of images: 32,460 (background 19,280, evaluation 13,180)
:Number of classes: 1,623 characters (background 964, evaluation 659) of 50
    alphabets (background 30, evaluation 20); 4 times as many with rotations
:Drawings per class: 20, each by a different person
:Image size: 28x28, grey levels in [0, 1], strokes 1 and background 0
:Loaded here: {n_images} images of {n_classes} classes (split={split!r},
    rotations={rotations})

Omniglot (Lake, Salakhutdinov and Tenenbaum, 2015) holds handwritten
characters of 50 alphabets, drawn online by Amazon Mechanical Turk workers.
It is the standard benchmark of few-shot classification: the characters of
the 30 *background* alphabets are for meta-training, those of the 20
*evaluation* alphabets for meta-testing.

Each 105x105 binary image of the upstream zips was converted to 8-bit grey
(Pillow ``convert("L")``), shrunk to 28x28 with Pillow's BOX filter
(``resize((28, 28), BOX)``: each pixel the mean of the 3x3 to 4x4 source
pixels whose centres fall in it), and stored as uint8 with a white
background (255). The loader returns ``1 - raw / 255`` as float32, so strokes are
near 1.0 and background is 0.0.

With ``rotations=True`` every character also appears rotated by 90, 180 and
270 degrees, each rotation a class of its own (Santoro et al. 2016, Vinyals
et al. 2016, Snell et al. 2017).

License: MIT, Copyright (c) 2015 Brenden Lake
(https://github.com/brendenlake/omniglot). Please cite the paper below.

.. topic:: References

  - B. M. Lake, R. Salakhutdinov, J. B. Tenenbaum. "Human-level concept
    learning through probabilistic program induction". Science 350(6266),
    1332-1338, 2015.
"""


@validate_params(
    {"data_home": [str, os.PathLike, None], "split": [StrOptions(set(_SPLITS))],
     "rotations": ["boolean"], "zips": ["array-like", None], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_omniglot(data_home=None, *, split="background", rotations=False, zips=None,
                  return_X_y=False):
    """Load the Omniglot handwritten characters at 28x28 (classification).

    =================   ===========================================
    Classes             1,623 characters (4 x 1,623 with rotations)
    Samples per class   20
    Samples total       32,460 (background 19,280, evaluation 13,180)
    Dimensionality      28 x 28
    Features            float32, 0.0 (background) to 1.0 (stroke)
    =================   ===========================================

    The data are read from the file ``omniglot28.npz`` in the data home:
    ``data_home`` if given, else the directory named by the environment
    variable ``SKMETA_DATA``, else ``~/skmeta_data``. Where the file is
    absent and ``zips`` is given, the file is built from the two upstream
    archives and saved there first (this needs Pillow:
    ``pip install skmeta[omniglot]``).

    Read more in the :ref:`User Guide <datasets>`.

    Parameters
    ----------
    data_home : str or path-like, default=None
        The directory of ``omniglot28.npz``. ``None`` means ``$SKMETA_DATA``,
        or ``~/skmeta_data`` where that is not set.
    split : {"background", "evaluation", "all"}, default="background"
        Which alphabets: the 30 background alphabets (964 characters; the
        standard meta-training set), the 20 evaluation alphabets (659
        characters; the standard meta-test set), or all 50.
    rotations : bool, default=False
        Also return every image rotated counter-clockwise by 90, 180 and 270
        degrees (``np.rot90`` on the image axes), each rotation of a character
        a class of its own, as in Santoro et al. (2016), Vinyals et al.
        (2016) and Snell et al. (2017). This multiplies the number of images
        and classes by 4.
    zips : (str or path-like, str or path-like), default=None
        The upstream ``images_background.zip`` and ``images_evaluation.zip``
        (https://github.com/brendenlake/omniglot, folder ``python/``), in
        that order. Used only when ``omniglot28.npz`` is absent: the images
        are converted to grey, resized to 28x28 with Pillow's BOX filter
        (each pixel the mean of the source pixels whose centres fall in
        it), stored as uint8 and saved to the data home, which is created
        if need be.
    return_X_y : bool, default=False
        Return ``(images, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with the attributes:

        images : ndarray of shape (n_samples, 28, 28), dtype float32
            The images, ``1 - raw / 255`` of the stored uint8 values: strokes
            1.0 (or close to it at their anti-aliased edges), background 0.0.
        data : ndarray of shape (n_samples, 28, 28), dtype float32
            The same array as ``images`` (reshape it to
            ``(n_samples, 784)`` for flat features).
        target : ndarray of shape (n_samples,), dtype int64
            Class ids. A character's id is its global index ``c`` into the
            1,623 characters, ordered by (split, alphabet, character): 0-963
            are background and 964-1622 evaluation characters, whichever
            ``split`` is loaded. With ``rotations=True`` the copy rotated by
            ``90 * r`` degrees has id ``c + r * 1623``, r in 1, 2, 3, so the
            unrotated images keep their ids. ``target_names[target]`` names
            each row's class.
        alphabet : ndarray of shape (n_samples,), dtype int64
            Alphabet ids, indices into ``alphabet_names``.
        drawer : ndarray of shape (n_samples,), dtype int64
            Which of the character's 20 drawings (1 to 20).
        rotation : ndarray of shape (n_samples,), dtype int64
            Counter-clockwise rotation in degrees (all 0 unless
            ``rotations=True``).
        target_names : ndarray of str of shape (1623,) or (6492,)
            Class names ``"<Alphabet>/characterNN"``, with the suffix
            ``"/rot90"``, ``"/rot180"`` or ``"/rot270"`` for rotated classes,
            indexed by class id. It names the classes of every split.
        alphabet_names : ndarray of str of shape (50,)
            Alphabet names, indexed by alphabet id.
        DESCR : str
            Description of the data set.

    (images, target) : tuple if ``return_X_y`` is True
        The arrays ``images`` and ``target`` described above.

    Raises
    ------
    FileNotFoundError
        When ``omniglot28.npz`` is not in the data home and no ``zips`` are
        given, or a zip file does not exist.
    ValueError
        When ``split`` is unknown, or the zips or the file are not Omniglot's
        (or the zips are passed in the wrong order).
    TypeError
        When ``data_home`` or ``zips`` are not paths, or ``rotations`` or
        ``return_X_y`` not bools.

    Notes
    -----
    Rows are ordered by (rotation, split, alphabet, character, drawer): with
    ``rotations=True`` the unrotated images come first, then the same images
    rotated by 90, 180 and 270 degrees. The whole data set takes 102 MB as
    float32, 407 MB with rotations.

    References
    ----------
    .. [1] B. M. Lake, R. Salakhutdinov, J. B. Tenenbaum. "Human-level
       concept learning through probabilistic program induction". Science
       350(6266), 1332-1338, 2015.
    .. [2] A. Santoro, S. Bartunov, M. Botvinick, D. Wierstra, T. Lillicrap.
       "Meta-Learning with Memory-Augmented Neural Networks". ICML 2016.
    .. [3] O. Vinyals, C. Blundell, T. Lillicrap, K. Kavukcuoglu, D. Wierstra.
       "Matching Networks for One Shot Learning". NeurIPS 2016.
    .. [4] J. Snell, K. Swersky, R. Zemel. "Prototypical Networks for
       Few-shot Learning". NeurIPS 2017.

    Examples
    --------
    The real file (3 MB) is loaded from the data home:

    >>> from skmeta.datasets import load_omniglot
    >>> omniglot = load_omniglot(split="background")  # doctest: +SKIP
    >>> omniglot.images.shape, str(omniglot.target_names[omniglot.target[0]])  # doctest: +SKIP
    ((19280, 28, 28), 'Alphabet_of_the_Magi/character01')

    Here, a stand-in file of the same layout, 2 alphabets of 2 characters
    drawn 20 times, one alphabet in each split:

    >>> import os, tempfile
    >>> import numpy as np
    >>> home = tempfile.TemporaryDirectory()
    >>> np.savez(os.path.join(home.name, "omniglot28.npz"),
    ...          images=np.full((80, 28, 28), 255, dtype=np.uint8),
    ...          character=np.repeat(np.arange(4, dtype=np.int32), 20),
    ...          alphabet=np.repeat(np.array([0, 1], dtype=np.int16), 40),
    ...          drawer=np.tile(np.arange(1, 21, dtype=np.int8), 4),
    ...          split=np.repeat(np.array([0, 1], dtype=np.int8), 40),
    ...          source_char_id=np.repeat(np.arange(1, 5, dtype=np.int16), 20),
    ...          alphabet_names=np.array(["Aa", "Bb"]),
    ...          character_names=np.array(["Aa/character01", "Aa/character02",
    ...                                    "Bb/character01", "Bb/character02"]))
    >>> omniglot = load_omniglot(home.name, split="background", rotations=True)
    >>> omniglot.images.shape, omniglot.images.dtype
    ((160, 28, 28), dtype('float32'))
    >>> np.unique(omniglot.target)
    array([ 0,  1,  4,  5,  8,  9, 12, 13])
    >>> str(omniglot.target_names[omniglot.target[-1]])
    'Aa/character02/rot270'
    >>> X, y = load_omniglot(home.name, split="evaluation", return_X_y=True)
    >>> X.shape, np.unique(y)
    ((40, 28, 28), array([2, 3]))
    >>> home.cleanup()
    """
    home = _get_data_home(data_home)
    path = home / FILENAME
    if path.is_file():
        arrays = _read(path)
    elif zips is not None:
        arrays = _build(zips, path)
    else:
        raise FileNotFoundError(
            f"{FILENAME} not found in {home} (the data home, from {_where_from(data_home)}). "
            f"Copy the prepared file there (in the skmeta development tree it is "
            f"../shared/datasets/omniglot/{FILENAME}), point data_home or $SKMETA_DATA "
            "at its directory, or build it from the upstream archives with "
            "load_omniglot(zips=('images_background.zip', 'images_evaluation.zip')) "
            "(needs Pillow; the zips are in the python/ folder of "
            "https://github.com/brendenlake/omniglot)")

    keep = np.isin(arrays["split"], _SPLITS[split])
    raw = arrays["images"][keep]
    images = (255 - raw).astype(np.float32)
    images /= 255
    character = arrays["character"][keep].astype(np.int64)
    alphabet = arrays["alphabet"][keep].astype(np.int64)
    drawer = arrays["drawer"][keep].astype(np.int64)
    names = arrays["character_names"]
    n_characters = len(names)
    n_rot = len(_ROTATIONS) if rotations else 1

    if rotations:
        images = np.concatenate([np.rot90(images, k=r, axes=(1, 2)) for r in range(n_rot)])
        target_names = np.concatenate(
            [names] + [np.char.add(names, f"/rot{deg}") for deg in _ROTATIONS[1:]])
    else:
        target_names = names
    target = np.concatenate([character + r * n_characters for r in range(n_rot)])
    if return_X_y:
        return images, target
    descr = DESCR.format(n_images=len(target), n_classes=len(np.unique(target)),
                         split=split, rotations=bool(rotations))
    return Bunch(
        images=images,
        data=images,
        target=target,
        alphabet=np.tile(alphabet, n_rot),
        drawer=np.tile(drawer, n_rot),
        rotation=np.repeat(np.array(_ROTATIONS[:n_rot], dtype=np.int64), len(character)),
        target_names=target_names,
        alphabet_names=arrays["alphabet_names"],
        DESCR=descr,
    )

"""skmeta.plotting: each display renders to a PNG and draws what it computed."""

import copy
import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import skmeta  # noqa: E402
from skmeta import MAMLRegressor, MetaRidgeRegressor, ProtoNetClassifier  # noqa: E402
from skmeta.datasets import load_digits_tasks, make_sinusoid_tasks  # noqa: E402
from skmeta.model_selection import evaluate_tasks  # noqa: E402
from skmeta.plotting import (AdaptationCurveDisplay, EpisodeDisplay,  # noqa: E402
                             MetaLearningCurveDisplay)

DIGITS = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                   "nine"])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def maml():
    """Fitted with held-out validation tasks, so the history has valid_loss."""
    return MAMLRegressor(hidden_layer_sizes=(8,), max_iter=7, eval_every=3,
                         validation_fraction=0.2, random_state=0).fit(
        make_sinusoid_tasks(10, random_state=0))


@pytest.fixture(scope="module")
def ridge():
    return MetaRidgeRegressor(max_iter=3, random_state=0).fit(
        make_sinusoid_tasks(10, random_state=0))


@pytest.fixture(scope="module")
def episode():
    """A 3-way 2-shot digits episode with string labels, and a fitted ProtoNet."""
    train, test = load_digits_tasks(n_way=3, k_shot=2, n_query=2, n_train_tasks=10,
                                    n_test_tasks=1, random_state=0)
    est = ProtoNetClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    est.fit([(t.X_support, DIGITS[t.y_support], t.X_query, DIGITS[t.y_query])
             for t in train])
    t = test[0]
    return est, t.X_support, DIGITS[t.y_support], t.X_query, DIGITS[t.y_query]


def _render(display, tmp_path, name):
    path = tmp_path / f"{name}.png"
    display.figure_.savefig(path)
    assert path.stat().st_size > 0


# ------------------------------------------------------------ learning curve
def test_learning_curve_draws_the_history(maml, tmp_path):
    disp = MetaLearningCurveDisplay.from_estimator(maml)
    _render(disp, tmp_path, "learning")
    history = maml.history_
    assert len(disp.ax_.get_lines()) == 2
    np.testing.assert_array_equal(disp.train_line_.get_xdata(), history[:, "epoch"])
    np.testing.assert_allclose(disp.train_line_.get_ydata(), history[:, "train_loss"])
    valid = [(r["epoch"], r["valid_loss"]) for r in history if "valid_loss" in r]
    assert [3, 6, 7] == [it for it, _ in valid]
    np.testing.assert_array_equal(disp.valid_line_.get_xdata(), [it for it, _ in valid])
    np.testing.assert_allclose(disp.valid_line_.get_ydata(), [v for _, v in valid])
    assert disp.ax_.get_xlabel() == "meta-iteration"


def test_learning_curve_against_time(maml, tmp_path):
    disp = MetaLearningCurveDisplay.from_estimator(maml, x="time")
    _render(disp, tmp_path, "learning_time")
    np.testing.assert_allclose(disp.train_line_.get_xdata(), np.cumsum(maml.history_[:, "dur"]))
    assert disp.ax_.get_xlabel() == "meta-training time (s)"


def test_learning_curve_without_validation_into_the_users_axes(tmp_path):
    history = [{"epoch": 1, "train_loss": 2.0, "dur": 0.1},
               {"epoch": 2, "train_loss": 1.0, "dur": 0.2}]
    fig, (left, right) = plt.subplots(1, 2)
    disp = MetaLearningCurveDisplay.from_history(history, name="run", ax=right)
    _render(disp, tmp_path, "learning_ax")
    assert disp.ax_ is right and disp.figure_ is fig
    assert disp.valid_line_ is None
    assert len(right.get_lines()) == 1 and len(left.get_lines()) == 0
    assert disp.train_line_.get_label() == "run: training loss"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"x": "epoch"}, ValueError, "x must be"),
    ({"train_kw": "red"}, TypeError, "train_kw must be a dict"),
    ({"ax": "axes"}, TypeError, "ax must be a matplotlib Axes"),
])
def test_learning_curve_bad_arguments(maml, kwargs, error, match):
    with pytest.raises(error, match=match):
        MetaLearningCurveDisplay.from_estimator(maml, **kwargs)


@pytest.mark.parametrize("history, error, match", [
    ([], ValueError, "history is empty"),
    ([{"loss": 1.0}], ValueError, "row 0 has no 'train_loss'"),
    ({"train_loss": 1.0}, TypeError, "history must be"),
])
def test_learning_curve_bad_history(history, error, match):
    with pytest.raises(error, match=match):
        MetaLearningCurveDisplay.from_history(history)


def test_learning_curve_time_needs_durations():
    with pytest.raises(ValueError, match="'dur'"):
        MetaLearningCurveDisplay.from_history([{"train_loss": 1.0}], x="time")


def test_learning_curve_unfitted():
    with pytest.raises(NotFittedError):
        MetaLearningCurveDisplay.from_estimator(MAMLRegressor())


# ---------------------------------------------------------- adaptation curve
def _band_limits(fill, x):
    """The lowest and highest y of a fill_between band at ``x``."""
    v = fill.get_paths()[0].vertices
    ys = v[np.isclose(v[:, 0], x), 1]
    return ys.min(), ys.max()


def test_adaptation_curve_means_and_band(maml, ridge, tmp_path):
    tasks = make_sinusoid_tasks(6, n_support=5, random_state=1)
    steps = [0, 2, 1]  # sorted by the display
    params, adapt_steps = maml.get_params(), maml.adapt_steps
    disp = AdaptationCurveDisplay.from_estimator(
        [maml, ridge], tasks, steps=steps, names=["maml", "ridge"],
        scoring="neg_mean_squared_error", negate_score=True)
    _render(disp, tmp_path, "adaptation")
    assert maml.adapt_steps is adapt_steps and maml.get_params().keys() == params.keys()
    assert len(disp.ax_.get_lines()) == 2 and len(disp.fill_between_) == 2
    np.testing.assert_array_equal(disp.steps, [0, 1, 2])
    other = copy.deepcopy(maml)
    for j, k in enumerate(disp.steps):
        res = evaluate_tasks(other.set_params(adapt_steps=int(k)), tasks,
                             "neg_mean_squared_error")
        assert disp.means[0, j] == pytest.approx(-res.mean)
        assert disp.cis[0, j] == pytest.approx(res.ci)
        lo, hi = _band_limits(disp.fill_between_[0], k)
        assert (lo, hi) == pytest.approx((-res.mean - res.ci, -res.mean + res.ci))
    np.testing.assert_allclose(disp.lines_[0].get_xdata(), [0, 1, 2])
    np.testing.assert_allclose(disp.lines_[0].get_ydata(), disp.means[0])
    # the metric learner: scored once, a dashed flat line
    flat = evaluate_tasks(ridge, tasks, "neg_mean_squared_error")
    np.testing.assert_allclose(disp.lines_[1].get_ydata(), [-flat.mean] * 3)
    assert disp.lines_[1].get_linestyle() == "--"
    assert disp.lines_[1].get_label() == "ridge (no adaptation steps)"
    assert disp.ax_.get_ylabel() == "mean_squared_error"
    assert disp.scores.shape == (2, 3, 6)


def test_adaptation_curve_into_the_users_axes(maml):
    fig, ax = plt.subplots()
    disp = AdaptationCurveDisplay.from_estimator(
        maml, make_sinusoid_tasks(3, random_state=1), steps=[1], ax=ax)
    assert disp.ax_ is ax and disp.figure_ is fig and len(ax.get_lines()) == 1
    assert disp.ax_.get_ylabel() == "score"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"steps": []}, ValueError, "steps must be a non-empty list"),
    ({"steps": [1, -1]}, ValueError, "steps must be"),
    ({"steps": [1.5]}, ValueError, "steps must be"),
    ({"steps": 3}, TypeError, "steps must be"),
    ({"names": ["a", "b"]}, ValueError, "names has 2 entries for 1"),
    ({"param_name": "n_steps"}, ValueError, "no estimator has a parameter 'n_steps'"),
    ({"line_kw": 1}, TypeError, "line_kw must be a dict"),
])
def test_adaptation_curve_bad_arguments(maml, kwargs, error, match):
    with pytest.raises(error, match=match):
        AdaptationCurveDisplay.from_estimator(maml, make_sinusoid_tasks(2, random_state=1),
                                              **kwargs)


def test_adaptation_curve_bad_estimators():
    tasks = make_sinusoid_tasks(2, random_state=1)
    with pytest.raises(NotFittedError):
        AdaptationCurveDisplay.from_estimator(MAMLRegressor(), tasks)
    with pytest.raises(TypeError, match="adapt method"):
        AdaptationCurveDisplay.from_estimator(object(), tasks)
    with pytest.raises(ValueError, match="non-empty list"):
        AdaptationCurveDisplay.from_estimator([], tasks)


# ------------------------------------------------------------------- episode
def _image_axes(fig):
    return [a for a in fig.axes if a.get_images()]


def test_episode_from_estimator(episode, tmp_path):
    est, Xs, ys, Xq, yq = episode
    disp = EpisodeDisplay.from_estimator(est, Xs, ys, Xq, yq)
    _render(disp, tmp_path, "episode")
    assert len(_image_axes(disp.figure_)) == len(ys) + len(yq)
    y_pred = est.adapt(Xs, ys).predict(Xq)
    np.testing.assert_array_equal(disp.y_pred, y_pred)
    assert disp.support_images.shape == (len(ys), 8, 8)
    # one row per class, labelled with the (string) class
    labels = sorted(a.get_ylabel() for a in disp.support_axes_ if a.get_ylabel())
    assert labels == sorted(set(ys))


def test_episode_marks_exactly_the_mistakes(episode, tmp_path):
    _, Xs, ys, Xq, yq = episode
    y_pred = yq.copy()
    wrong = [0, 3]
    y_pred[wrong] = [ys[0] if yq[i] != ys[0] else ys[-1] for i in wrong]
    disp = EpisodeDisplay.from_predictions(Xs, ys, Xq, yq, y_pred)
    _render(disp, tmp_path, "episode_mistakes")
    np.testing.assert_array_equal(np.flatnonzero(disp.mistakes_), wrong)
    for i, ax in enumerate(disp.query_axes_):
        title = ax.title
        assert title.get_text() == f"pred: {y_pred[i]}\ntrue: {yq[i]}"
        red = matplotlib.colors.same_color(title.get_color(), "red")
        framed = ax.spines["left"].get_visible()
        assert red == framed == (i in wrong)
        if framed:
            assert matplotlib.colors.same_color(ax.spines["left"].get_edgecolor(), "red")
        # each query image sits in the row of its true class
        row = ax.get_subplotspec().rowspan.start
        support_rows = {a.get_subplotspec().rowspan.start
                        for a, label in zip(disp.support_axes_, ys) if label == yq[i]}
        assert support_rows == {row}
    assert "4 of 6" in disp.ax_.get_title()


def test_episode_into_the_users_axes(episode, tmp_path):
    _, Xs, ys, Xq, yq = episode
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    disp = EpisodeDisplay.from_predictions(Xs, ys, Xq, yq, yq, ax=right)
    _render(disp, tmp_path, "episode_ax")
    assert disp.ax_ is right and disp.figure_ is fig and not right.axison
    box = right.get_position()
    for ax in disp.support_axes_ + disp.query_axes_:
        p = ax.get_position()
        assert box.x0 - 1e-9 <= p.x0 and p.x1 <= box.x1 + 1e-9


@pytest.mark.parametrize("shape, image_shape, expected", [
    ((6, 3, 5, 4), None, (5, 4, 3)),      # (C, H, W) colour
    ((6, 5, 4, 3), None, (5, 4, 3)),      # (H, W, C)
    ((6, 1, 5, 4), None, (5, 4)),         # one channel
    ((6, 5, 4), None, (5, 4)),            # (H, W)
    ((6, 20), (5, 4), (5, 4)),            # flat, not square
    ((6, 60), (3, 5, 4), (5, 4, 3)),      # flat colour
])
def test_episode_image_shapes(shape, image_shape, expected, tmp_path):
    rng = np.random.RandomState(0)
    X = rng.uniform(size=shape)
    y = np.array(["a", "a", "b", "b", "c", "c"])
    disp = EpisodeDisplay.from_predictions(X, y, X, y, y[::-1], image_shape=image_shape)
    _render(disp, tmp_path, "shapes")
    assert disp.query_images.shape[1:] == expected
    assert len(_image_axes(disp.figure_)) == 12


@pytest.mark.parametrize("change, error, match", [
    ({"X_support": np.zeros((6, 20))}, ValueError, "not a square image: pass image_shape"),
    ({"image_shape": (9, 9)}, ValueError, "image_shape=.* does not fit"),
    ({"X_query": np.zeros((6, 49))}, ValueError, "X_support has images of shape"),
    ({"y_pred": np.array(["a"])}, ValueError, "inconsistent numbers of samples"),
    ({"y_support": np.zeros((6, 2))}, ValueError, "y_support must be 1-D"),
    ({"X_support": np.zeros((6, 2, 5, 5))}, ValueError, "1, 3 or 4 channels"),
    ({"X_support": np.array(["x"] * 6)}, ValueError, "X_support must be a numeric"),
])
def test_episode_bad_arguments(change, error, match):
    y = np.array(["a", "a", "b", "b", "c", "c"])
    args = {"X_support": np.zeros((6, 64)), "y_support": y, "X_query": np.zeros((6, 64)),
            "y_query": y, "y_pred": y, **change}
    with pytest.raises(error, match=match):
        EpisodeDisplay.from_predictions(**args)


def test_episode_needs_a_subplot():
    ax = plt.figure().add_axes([0, 0, 1, 1])
    y = np.array([0, 1])
    with pytest.raises(ValueError, match="ax must be a subplot"):
        EpisodeDisplay.from_predictions(np.zeros((2, 4)), y, np.zeros((2, 4)), y, y, ax=ax)


# ----------------------------------------------------- matplotlib is optional
def test_import_and_plot_without_matplotlib(monkeypatch, maml):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")
                 or m.startswith("skmeta.plotting")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.delattr(skmeta, "plotting")
    import skmeta.plotting as plotting  # works: matplotlib is imported in plot only

    match = r"requires matplotlib, skmeta's optional 'plots' extra: pip install 'skmeta\[plots\]'"
    with pytest.raises(ImportError, match="MetaLearningCurveDisplay " + match):
        plotting.MetaLearningCurveDisplay.from_estimator(maml)
    with pytest.raises(ImportError, match="AdaptationCurveDisplay " + match):
        plotting.AdaptationCurveDisplay.from_estimator(
            maml, make_sinusoid_tasks(2, random_state=1), steps=[0])
    y = np.array([0, 1])
    with pytest.raises(ImportError, match="EpisodeDisplay " + match):
        plotting.EpisodeDisplay.from_predictions(np.zeros((2, 4)), y, np.zeros((2, 4)), y, y)

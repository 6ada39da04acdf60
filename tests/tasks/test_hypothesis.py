"""Property tests of task-input validation (check_tasks) with hypothesis."""

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skmeta import Task
from skmeta.tasks import check_tasks

SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

FORMS = ["task", "tuple", "list", "dict", "pool_tuple", "pool_dict", "pool_task"]
X_KINDS = ["float64", "float32", "int", "nested_list"]
LABELS = {"int": np.array([3, -1, 7, 0]), "str": np.array(["cat", "dog", "emu", "yak"])}


@st.composite
def task_specs(draw):
    """A valid task list as specs: (classifier, [dict(form, Xs, ys, Xq, yq, x_kind)])."""
    classifier = draw(st.booleans())
    label_kind = draw(st.sampled_from(sorted(LABELS)))
    n_features = draw(st.integers(1, 4))
    n_tasks = draw(st.integers(1, 5))
    specs = []
    for _ in range(n_tasks):
        form = draw(st.sampled_from(FORMS))
        x_kind = draw(st.sampled_from(X_KINDS))
        n_s, n_q = draw(st.integers(1, 8)), draw(st.integers(1, 8))
        rng = np.random.RandomState(draw(st.integers(0, 2**31 - 1)))
        Xs, Xq = rng.randn(n_s, n_features) * 3, rng.randn(n_q, n_features) * 3
        if x_kind == "int":
            Xs, Xq = np.round(Xs).astype(int), np.round(Xq).astype(int)
        elif x_kind == "float32":
            Xs, Xq = Xs.astype(np.float32), Xq.astype(np.float32)
        if classifier:
            labels = LABELS[label_kind][:draw(st.integers(1, 4))]
            ys = rng.choice(labels, n_s)
            yq = rng.choice(np.unique(ys), n_q)  # query labels come from the support set
        else:
            ys, yq = rng.randn(n_s), rng.randn(n_q)
        if form.startswith("pool"):
            Xq = yq = None
        specs.append({"form": form, "x_kind": x_kind, "Xs": Xs, "ys": ys, "Xq": Xq, "yq": yq})
    return classifier, specs


def _x(arr, x_kind):
    return arr.tolist() if x_kind == "nested_list" and arr is not None else arr


def build(spec):
    """The raw task of a spec, in the spec's form."""
    Xs, Xq = _x(spec["Xs"], spec["x_kind"]), _x(spec["Xq"], spec["x_kind"])
    ys, yq = spec["ys"], spec["yq"]
    form = spec["form"]
    if form == "task":
        return Task(Xs, ys, Xq, yq)
    if form == "tuple":
        return (Xs, ys, Xq, yq)
    if form == "list":
        return [Xs, ys, Xq, yq]
    if form == "dict":
        return {"X_support": Xs, "y_support": ys, "X_query": Xq, "y_query": yq}
    if form == "pool_tuple":
        return (Xs, ys)
    if form == "pool_dict":
        return {"X_support": Xs, "y_support": ys}
    return Task(Xs, ys)


@SETTINGS
@given(task_specs())
def test_valid_tasks_are_normalised_without_losing_rows(case):
    classifier, specs = case
    out = check_tasks([build(s) for s in specs], classifier=classifier)
    assert isinstance(out, list) and len(out) == len(specs)
    n_features = specs[0]["Xs"].shape[1]
    for t, s in zip(out, specs):
        assert isinstance(t, Task)
        assert t.is_pool == (s["Xq"] is None)
        pairs = [("Xs", "ys", t.X_support, t.y_support)]
        if not t.is_pool:
            pairs.append(("Xq", "yq", t.X_query, t.y_query))
        else:
            assert t.X_query is None and t.y_query is None
        for xk, yk, X, y in pairs:
            n = len(s[xk])
            assert isinstance(X, np.ndarray) and X.dtype.kind == "f"
            assert X.shape == (n, n_features)
            # same rows, same order, same values
            np.testing.assert_array_equal(X, np.asarray(s[xk], dtype=float))
            assert isinstance(y, np.ndarray) and y.shape == (n,)
            if classifier:
                assert y.dtype.kind == s[yk].dtype.kind
                assert y.tolist() == s[yk].tolist()
            else:
                assert y.dtype == np.float64
                np.testing.assert_array_equal(y, s[yk])
        if classifier and not t.is_pool:
            assert set(t.y_query.tolist()) <= set(t.y_support.tolist())


@SETTINGS
@given(task_specs())
def test_valid_tasks_are_idempotent(case):
    classifier, specs = case
    once = check_tasks([build(s) for s in specs], classifier=classifier)
    twice = check_tasks(once, classifier=classifier)
    for a, b in zip(once, twice):
        np.testing.assert_array_equal(a.X_support, b.X_support)
        np.testing.assert_array_equal(a.y_support, b.y_support)
        assert a.is_pool == b.is_pool


def _targets(spec, classifier):
    """The arrays of a spec a corruption may touch."""
    keys = ["Xs"] if spec["Xq"] is None else ["Xs", "Xq"]
    if not classifier:
        keys += ["ys"] if spec["Xq"] is None else ["ys", "yq"]
    return keys


NAMES = {"Xs": "X_support", "Xq": "X_query", "ys": "y_support", "yq": "y_query"}


@SETTINGS
@given(task_specs(), st.data())
def test_nan_or_inf_anywhere_is_reported_with_its_task(case, data):
    classifier, specs = case
    i = data.draw(st.integers(0, len(specs) - 1), label="task")
    spec = dict(specs[i])
    key = data.draw(st.sampled_from(_targets(spec, classifier)), label="array")
    value = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="value")
    arr = np.array(spec[key], dtype=float)
    flat = data.draw(st.integers(0, arr.size - 1), label="position")
    arr.flat[flat] = value
    spec[key] = arr
    tasks = [build(s) for s in specs]
    tasks[i] = build(spec)
    with pytest.raises(ValueError, match=rf"^task {i}: {NAMES[key]} contains NaN or infinity"):
        check_tasks(tasks, classifier=classifier)


@SETTINGS
@given(task_specs(), st.data())
def test_other_n_features_is_reported_with_its_task(case, data):
    classifier, specs = case
    if len(specs) == 1:  # a single task cannot disagree with itself: add one
        specs = specs + [dict(specs[0])]
    i = data.draw(st.integers(0, len(specs) - 1), label="task")
    extra = data.draw(st.sampled_from([-1, 1, 2]), label="extra features")
    spec = dict(specs[i])
    n_features = spec["Xs"].shape[1]
    if n_features + extra < 1:
        extra = 1
    for key in ("Xs", "Xq"):
        if spec[key] is not None:
            arr = spec[key]
            spec[key] = (arr[:, :n_features + extra] if extra < 0
                         else np.hstack([arr] + [arr[:, :1]] * extra))
    tasks = [build(s) for s in specs]
    tasks[i] = build(spec)
    with pytest.raises(ValueError, match="all tasks must share n_features") as info:
        check_tasks(tasks, classifier=classifier)
    # the message names the odd task (when it is task 0, the next task meets the clash)
    msg = str(info.value)
    assert re.search(rf"\btask {i}\b", msg), msg
    assert msg.startswith(f"task {max(i, 1)}: X_support has features of shape")


@SETTINGS
@given(task_specs(), st.data())
def test_short_y_is_reported_with_its_task(case, data):
    classifier, specs = case
    i = data.draw(st.integers(0, len(specs) - 1), label="task")
    spec = dict(specs[i])
    key = data.draw(st.sampled_from(["ys"] if spec["Xq"] is None else ["ys", "yq"]),
                    label="array")
    drop = data.draw(st.integers(1, len(spec[key])), label="dropped")
    n_rows = len(spec[key])
    spec[key] = spec[key][:-drop]
    tasks = [build(s) for s in specs]
    tasks[i] = build(spec)
    with pytest.raises(ValueError, match=rf"^task {i}: {NAMES[key]} has {n_rows - drop} values "
                                         rf"but X has {n_rows} rows"):
        check_tasks(tasks, classifier=classifier)


@SETTINGS
@given(task_specs(), st.data())
def test_bad_form_is_reported_with_its_task(case, data):
    classifier, specs = case
    i = data.draw(st.integers(0, len(specs) - 1), label="task")
    spec = specs[i]
    bad = data.draw(st.sampled_from(["int", "3-tuple", "dict"]), label="form")
    tasks = [build(s) for s in specs]
    if bad == "int":
        tasks[i], exc = 3, TypeError
    elif bad == "3-tuple":
        tasks[i], exc = (spec["Xs"], spec["ys"], spec["Xs"]), TypeError
    else:
        tasks[i], exc = {"X": spec["Xs"], "y": spec["ys"]}, ValueError
    with pytest.raises(exc, match=rf"^task {i}: "):
        check_tasks(tasks, classifier=classifier)

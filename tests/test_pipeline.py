"""MetaPipeline: transformers fitted on pooled support sets, then meta-training and adapt."""

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import StandardScaler

from skmeta import MAMLRegressor, MetaPipeline, ProtoNetClassifier, Task
from skmeta.datasets import SinusoidTasks, make_fewshot_tasks, make_sinusoid_tasks

from ._instances import fast_instance


def test_transformers_see_only_support_sets_and_the_learner_sees_transformed_tasks():
    tasks = make_sinusoid_tasks(10, n_support=4, n_query=6, random_state=0)
    pipe = MetaPipeline([("scale", StandardScaler()),
                         ("maml", fast_instance(MAMLRegressor, random_state=0))]).fit(tasks)
    support = np.concatenate([t.X_support for t in tasks])
    np.testing.assert_allclose(pipe["scale"].mean_, support.mean(0))
    # the same as meta-training on tasks transformed by hand
    scaler = StandardScaler().fit(support)
    by_hand = [Task(scaler.transform(t.X_support), t.y_support,
                    scaler.transform(t.X_query), t.y_query) for t in tasks]
    ref = fast_instance(MAMLRegressor, random_state=0).fit(by_hand)
    t = make_sinusoid_tasks(1, n_support=5, n_query=8, random_state=3)[0]
    adapted = pipe.adapt(t.X_support, t.y_support)
    np.testing.assert_allclose(
        adapted.predict(t.X_query),
        ref.adapt(scaler.transform(t.X_support), t.y_support).predict(
            scaler.transform(t.X_query)), rtol=1e-6)
    # adapt returns a new pipeline: the meta-trained one is unchanged
    assert adapted is not pipe and pipe["maml"] is not adapted["maml"]
    assert not hasattr(pipe["maml"], "adapted_") and adapted["scale"] is pipe["scale"]


def test_imputer_step_handles_nan_in_tasks_and_string_labels():
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[::7, 1] = np.nan
    labels = np.array(["a", "b", "c"])[y]
    tasks = make_fewshot_tasks(X, labels, 2, 3, 3, 12, random_state=0)
    pipe = MetaPipeline([("impute", SimpleImputer()), ("scale", StandardScaler()),
                         ("proto", fast_instance(ProtoNetClassifier, random_state=0))])
    pipe.fit(tasks)
    ad = pipe.adapt(X[[0, 1, 2, 50, 51, 52]], ["a"] * 3 + ["b"] * 3)
    assert ad.classes_.tolist() == ["a", "b"]
    assert ad.predict_proba(X[[0, 7, 50]]).shape == (3, 2)


def test_arrays_and_samplers():
    tasks = make_sinusoid_tasks(6, random_state=0)
    X = np.concatenate([t.X_support for t in tasks])
    y = np.concatenate([t.y_support for t in tasks])
    pipe = MetaPipeline([("scale", StandardScaler()),
                         ("maml", fast_instance(MAMLRegressor, random_state=0))])
    assert pipe.fit(X, y).predict(X).shape == y.shape  # the plain Pipeline fit
    with pytest.raises(TypeError, match="list of tasks"):
        pipe.fit(SinusoidTasks())

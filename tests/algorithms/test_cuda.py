"""GPU checks: run with ``python -m pytest -m cuda`` on a machine with CUDA."""

import pickle

import numpy as np
import pytest
import torch

from skmeta import MAMLClassifier, MAMLRegressor
from skmeta.datasets import make_fewshot_tasks, make_sinusoid_tasks

from skmeta.model_selection import evaluate_tasks

from .._instances import all_estimators, fast_instance
from ._images import make_images

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("cls", [MAMLRegressor, MAMLClassifier])
def test_fit_adapt_predict_on_cuda_matches_cpu(cls):
    if cls is MAMLRegressor:
        tasks = make_sinusoid_tasks(20, random_state=0)
        Xs, ys, Xq = tasks[0].X_support, tasks[0].y_support, tasks[0].X_query
    else:
        rng = np.random.RandomState(0)
        X, y = rng.normal(size=(60, 4)), np.repeat(["a", "b", "c"], 20)
        tasks = make_fewshot_tasks(X, y, 2, 3, 4, 20, random_state=0)
        Xs, ys, Xq = X[[0, 1, 20, 21]], y[[0, 1, 20, 21]], X[[5, 25]]
    preds = {}
    for device in ("cpu", "cuda"):
        est = fast_instance(cls, device=device, random_state=0, max_iter=3).fit(tasks)
        assert next(iter(est.meta_params_["w"].values())).device.type == device
        preds[device] = est.adapt(Xs, ys)._forward(Xq)
    np.testing.assert_allclose(preds["cuda"], preds["cpu"], rtol=1e-3, atol=1e-4)
    # a GPU model pickles to CPU tensors and comes back on the GPU
    est2 = pickle.loads(pickle.dumps(est))
    assert est2.device_.type == "cuda"


@pytest.mark.parametrize("cls", [c for c in all_estimators() if c()._classifier],
                         ids=lambda c: c.__name__)
def test_conv4_and_batched_evaluation_on_cuda_match_cpu(cls):
    X, y = make_images(6, 10, size=8, noise=0.5, random_state=0)
    tasks = make_fewshot_tasks(X, y, 3, 2, 3, 12, random_state=0)
    scores = {}
    for device in ("cpu", "cuda"):
        est = fast_instance(cls, device=device, random_state=0, max_iter=3, module="conv4",
                            module__channels=4).fit(tasks)
        # on a GPU the evaluation path vmaps 64 tasks at a time
        scores[device] = evaluate_tasks(est, tasks, scoring="neg_log_loss").scores
    np.testing.assert_allclose(scores["cuda"], scores["cpu"], rtol=1e-3, atol=1e-4)

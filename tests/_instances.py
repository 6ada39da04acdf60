"""One registry of every public estimator, with small fast settings for tests."""

import inspect

import skmeta
from skmeta.base import BaseMetaEstimator

#: Settings that keep a fit to well under a second, applied where a class has them.
FAST = {
    "max_iter": 5,
    "meta_batch_size": 4,
    "hidden_layer_sizes": (16,),
    "compile": False,
    "eval_every": 5,
}


def all_estimators():
    """Public meta-learner classes exported by ``skmeta`` (MetaPipeline, a
    Pipeline of them, is checked with an instance in test_common)."""
    return [
        obj for name in skmeta.__all__
        if inspect.isclass(obj := getattr(skmeta, name)) and issubclass(obj, BaseMetaEstimator)
    ]


def fast_instance(cls, **params):
    names = cls().get_params()
    est = cls(**{k: v for k, v in FAST.items() if k in names})
    return est.set_params(**params)

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


#: Configurations checked besides the defaults, per class name (in the style of
#: imbalanced-learn's per-estimator parameter lists). conv4 is not among them:
#: scikit-learn's checks feed flat rows of varying widths, which are no images.
CONFIGS = {
    "MAMLRegressor": [{"first_order": True}, {"learn_inner_lr": True},
                      {"adapt_layers": "head"},
                      {"inner_steps": 2, "inner_checkpoint": 1, "meta_batch_chunk": 2}],
    "MAMLClassifier": [{"first_order": True}, {"learn_inner_lr": True},
                       {"adapt_layers": "head"}, {"head_init": "zero"},
                       {"inner_steps": 2, "inner_checkpoint": 1, "meta_batch_chunk": 2}],
    "ReptileRegressor": [{"inner_optimizer": "adam"}],
    "ReptileClassifier": [{"inner_optimizer": "adam"}],
    "ProtoNetClassifier": [{"distance": "cosine"}],
}


def all_instances(**params):
    """A fast instance of every estimator class, and one per extra configuration."""
    out = []
    for cls in all_estimators():
        for config in [{}] + CONFIGS.get(cls.__name__, []):
            out.append(fast_instance(cls, **config, **params))
    return out

"""skmeta: scikit-learn compatible meta-learning, with torch inside."""

from . import exceptions  # noqa: F401  (skmeta.exceptions)
from .algorithms import (FineTuneClassifier, FineTuneRegressor, MAMLClassifier, MAMLRegressor,
                         ProtoNetClassifier, ReptileClassifier, ReptileRegressor,
                         MetaRidgeClassifier, MetaRidgeRegressor, SiameseClassifier)
from .model_selection import MetaHyperparamSearch
from .pipeline import MetaPipeline
from .tasks import EpisodeSampler, Task

__version__ = "0.1.0.dev0"

__all__ = [
    "Task",
    "EpisodeSampler",
    "MAMLRegressor",
    "MAMLClassifier",
    "ReptileRegressor",
    "ReptileClassifier",
    "ProtoNetClassifier",
    "SiameseClassifier",
    "MetaRidgeRegressor",
    "MetaRidgeClassifier",
    "FineTuneRegressor",
    "FineTuneClassifier",
    "MetaHyperparamSearch",
    "MetaPipeline",
    "__version__",
]

"""The learners: one private module per algorithm."""

from ._finetune import FineTuneClassifier, FineTuneRegressor
from ._maml import MAMLClassifier, MAMLRegressor
from ._protonet import ProtoNetClassifier
from ._reptile import ReptileClassifier, ReptileRegressor
from ._ridge import MetaRidgeClassifier, MetaRidgeRegressor
from ._siamese import SiameseClassifier

__all__ = ["MAMLRegressor", "MAMLClassifier", "ReptileRegressor", "ReptileClassifier",
           "ProtoNetClassifier", "SiameseClassifier", "MetaRidgeRegressor",
           "MetaRidgeClassifier", "FineTuneRegressor",
           "FineTuneClassifier"]

"""The learners: one private module per algorithm."""

from ._finetune import FineTuneClassifier, FineTuneRegressor
from ._maml import MAMLClassifier, MAMLRegressor

__all__ = ["MAMLRegressor", "MAMLClassifier", "FineTuneRegressor", "FineTuneClassifier"]

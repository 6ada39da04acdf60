"""Figures of meta-learning: learning curves, adaptation curves, few-shot episodes.

Each figure is a display object in scikit-learn's convention
(:class:`sklearn.metrics.RocCurveDisplay`): a ``from_estimator`` (or
``from_history``, ``from_predictions``) class method computes what to draw,
stores it as attributes, and calls ``plot(ax=...)``, which draws into the
user's matplotlib axes (or new ones) and keeps the artists it drew.
matplotlib is the optional ``plots`` extra (``pip install 'skmeta[plots]'``);
it is imported only when something is drawn.
"""

from ._adaptation_curve import AdaptationCurveDisplay
from ._episode import EpisodeDisplay
from ._learning_curve import MetaLearningCurveDisplay

__all__ = ["MetaLearningCurveDisplay", "AdaptationCurveDisplay", "EpisodeDisplay"]

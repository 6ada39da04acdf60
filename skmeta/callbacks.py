"""skorch-style callbacks for the meta-training engine.

The engine calls ``on_train_begin``, ``on_epoch_end`` (every ``eval_every``
meta-iterations, after the validation loss is recorded) and
``on_train_end`` with the estimator as ``net``; ``net.history`` is its
``history_``, a :class:`skorch.history.History`. skorch's own callbacks that
read the history work unchanged; those that need a skorch ``NeuralNet``
(checkpointing its module, learning-rate schedulers on its optimizer) do not.
"""

from skorch.callbacks import Callback, EarlyStopping

__all__ = ["Callback", "EarlyStopping"]

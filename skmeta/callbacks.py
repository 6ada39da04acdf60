"""skorch-style callbacks for the meta-training engine.

The engine calls ``on_train_begin``, ``on_epoch_end`` (every ``eval_every``
meta-iterations, after the validation loss is recorded) and
``on_train_end`` with the estimator as ``net``; ``net.history`` is its
``history_``, a :class:`skorch.history.History`. skorch's own callbacks that
read the history work unchanged; those that need a skorch ``NeuralNet``
(checkpointing its module, learning-rate schedulers on its optimizer) do not.
"""

import skorch.callbacks
from skorch.callbacks import Callback
from torch.utils._pytree import tree_flatten

__all__ = ["Callback", "EarlyStopping"]


class EarlyStopping(skorch.callbacks.EarlyStopping):
    """Stop meta-training when the validation loss stops improving.

    skorch's :class:`~skorch.callbacks.EarlyStopping`, for skmeta's
    estimators. Stops meta-training when ``monitor`` (for skmeta,
    ``"valid_loss"``) has not improved for ``patience`` evaluations. With
    ``load_best=True`` it keeps a copy of the meta-parameters
    (``meta_params_``, which skmeta keeps outside any torch module) at the
    best evaluation and puts it back at the end of training. The parameters
    are skorch's.

    Parameters
    ----------
    monitor : str, default="valid_loss"
        The column of ``history_`` to watch.
    patience : int, default=5
        Evaluations (every ``eval_every`` meta-iterations) without
        improvement before meta-training stops.
    threshold : float, default=1e-4
        Smallest change that counts as an improvement.
    threshold_mode : {"rel", "abs"}, default="rel"
        Whether ``threshold`` is relative to the best value so far or
        absolute.
    lower_is_better : bool, default=True
        Whether a lower ``monitor`` value is better.
    sink : callable, default=print
        Where the message that training stopped goes.
    load_best : bool, default=False
        Restore the meta-parameters of the best evaluation at the end.

    Examples
    --------
    >>> from skmeta import MAMLRegressor
    >>> from skmeta.callbacks import EarlyStopping
    >>> from skmeta.datasets import make_sinusoid_tasks
    >>> stop = EarlyStopping(monitor="valid_loss", patience=2, load_best=True)
    >>> est = MAMLRegressor(max_iter=50, eval_every=5, validation_fraction=0.2,
    ...                     early_stopping=False, callbacks=[stop], random_state=0)
    >>> est.fit(make_sinusoid_tasks(40, random_state=0)).n_iter_ <= 50
    True
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.best_meta_params_ = None

    def on_epoch_end(self, net, **kwargs):
        load, self.load_best = self.load_best, False  # skorch would copy net.module_
        try:
            super().on_epoch_end(net, **kwargs)
        finally:
            self.load_best = load
        if load and self.misses_ == 0:  # improved: keep these meta-parameters
            self.best_meta_params_ = [p.detach().clone() for p in _leaves(net)]

    def on_train_end(self, net, **kwargs):
        if (self.load_best and self.best_meta_params_ is not None
                and self.best_epoch_ != net.history[-1, "epoch"]):
            for p, best in zip(_leaves(net), self.best_meta_params_):
                p.data.copy_(best)
            self._sink(f"Restoring the meta-parameters of epoch {self.best_epoch_}.",
                       verbose=net.verbose)


def _leaves(net):
    return tree_flatten(net.meta_params_)[0]

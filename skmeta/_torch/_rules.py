"""Inner-loop update rules: how one adaptation step turns gradients into new weights.

Every rule has the same small protocol, so a new rule is one class and
touches no learner:

- ``meta_params(w, keys)``: meta-learned state the rule adds to the
  meta-parameters (Meta-SGD's per-entry step sizes), ``{}`` for none;
- ``init_state(fast)``: the rule's per-task state before the first step;
- ``step(grads, state, t, theta)``: ``(deltas, state)`` for step ``t``
  (from 1); the weights move by ``-deltas``. ``theta`` holds the
  meta-parameters other than the weights (what ``meta_params`` added), or
  is ``None`` outside meta-learning.

Rules are pure functions of tensors (no ``.grad``, no in-place change), so
they run under ``vmap`` and are differentiated through by second-order MAML.
"""

import torch

__all__ = ["UpdateRule", "SGD", "Adam", "MetaSGD", "make_rule"]


class UpdateRule:
    """Base of the inner-loop update rules (see the module docstring).

    Parameters
    ----------
    lr : float
        Step size (the initial value of learned step sizes).
    """

    def __init__(self, lr):
        self.lr = lr

    def meta_params(self, w, keys):
        return {}

    def init_state(self, fast):
        return None

    def step(self, grads, state, t, theta):
        raise NotImplementedError


class SGD(UpdateRule):
    """Plain gradient steps at ``lr``."""

    def step(self, grads, state, t, theta):
        return {k: self.lr * g for k, g in grads.items()}, state


class Adam(UpdateRule):
    """Adam with ``betas=(0, 0.999)``, as in Reptile's few-shot experiments
    (Nichol et al. 2018): the first moment is the gradient itself; the second
    moment starts afresh for each task."""

    beta2, eps = 0.999, 1e-8

    def init_state(self, fast):
        return {k: 0.0 for k in fast}

    def step(self, grads, state, t, theta):
        v = {k: self.beta2 * state[k] + (1 - self.beta2) * g * g for k, g in grads.items()}
        scale = 1 - self.beta2 ** t
        return {k: self.lr * g / ((v[k] / scale).sqrt() + self.eps)
                for k, g in grads.items()}, v


class MetaSGD(UpdateRule):
    """Meta-SGD (Li et al. 2017): one learned step size per weight entry,
    stored in the meta-parameters as ``theta["lr"]`` and initialised to ``lr``."""

    def meta_params(self, w, keys):
        ref = next(iter(w.values()))
        return {"lr": {k: (torch.full_like(w[k], self.lr) if k in w
                           else torch.tensor(float(self.lr), device=ref.device))
                       for k in keys}}

    def step(self, grads, state, t, theta):
        return {k: theta["lr"][k] * g for k, g in grads.items()}, state


RULES = {"sgd": SGD, "adam": Adam, "meta-sgd": MetaSGD}


def make_rule(name, lr):
    """The rule registered as ``name`` with step size ``lr``."""
    return RULES[name](lr)

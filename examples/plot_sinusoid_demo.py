"""
MAML on sinusoids: few-shot regression in a minute
==================================================

The MAML paper's regression family: every task is a sine wave with its own
amplitude and phase, seen through 5 or 10 points. We meta-train
:class:`~skmeta.MAMLRegressor` on fresh tasks for about a minute of CPU time,
then adapt it to new tasks and compare its query error with two baselines:
the fine-tuning baseline (:class:`~skmeta.FineTuneRegressor`, one network
trained on all tasks pooled, then fine-tuned) and a network of the same
shape trained from scratch on the support set alone
(:class:`sklearn.neural_network.MLPRegressor`).

With ``SKMETA_EXAMPLES_FAST=1`` in the environment (the documentation's
build sets it) the script runs in seconds, with far fewer meta-iterations
and test tasks: its numbers and curves are then those of barely trained
learners.
"""

# %%
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.neural_network import MLPRegressor

from skmeta import FineTuneRegressor, MAMLRegressor
from skmeta.datasets import SinusoidTasks, make_sinusoid_tasks
from skmeta.model_selection import evaluate_tasks

FAST = bool(os.environ.get("SKMETA_EXAMPLES_FAST"))
MAML_ITER, FINETUNE_ITER = (200, 100) if FAST else (20000, 5000)
N_TEST = 20 if FAST else 100

# %%
# Meta-training
# -------------
# A sampler draws fresh tasks (K=10 support, 10 query) for every meta-batch.
# Fits of 10000 or more meta-iterations are compiled with ``torch.compile``
# (a few seconds once, then faster iterations). ``verbose=1`` would show a
# progress bar with the loss and the time left.
train = SinusoidTasks(n_support=10, n_query=10, random_state=0)

t0 = time.perf_counter()
maml = MAMLRegressor(max_iter=MAML_ITER, adapt_steps=10, random_state=0)
maml.fit(train)
t_maml = time.perf_counter() - t0
t0 = time.perf_counter()
finetune = FineTuneRegressor(max_iter=FINETUNE_ITER, adapt_steps=10,
                             random_state=0)
finetune.fit(train)
t_ft = time.perf_counter() - t0
print(f"meta-training: MAML {MAML_ITER} iterations in {t_maml:.0f} s, "
      f"fine-tune baseline {FINETUNE_ITER} in {t_ft:.0f} s")

# %%
# Few-shot evaluation
# -------------------
# 100 new tasks (20 in fast mode) at K=5 and K=10; each learner sees the
# support set and is scored by mean squared error on 100 query points.
# :func:`~skmeta.model_selection.evaluate_tasks` adapts a meta-learner to
# every task and scores its query set (negated MSE, scikit-learn's scorer
# convention), with a 95% interval over the tasks; the network from scratch
# is fitted task by task.


def from_scratch_mse(tasks):
    mse = []
    for t in tasks:
        mlp = MLPRegressor(hidden_layer_sizes=(40, 40), solver="lbfgs",
                           max_iter=500, random_state=0)
        y_pred = mlp.fit(t.X_support, t.y_support).predict(t.X_query)
        mse.append(np.mean((y_pred - t.y_query) ** 2))
    return np.mean(mse), 1.96 * np.std(mse, ddof=1) / np.sqrt(len(mse))


rows = []
for k in (5, 10):
    test = make_sinusoid_tasks(N_TEST, n_support=k, n_query=100,
                               random_state=100 + k)
    for name, est in [("MAML (10 steps)", maml),
                      ("fine-tune baseline", finetune)]:
        res = evaluate_tasks(est, test, scoring="neg_mean_squared_error")
        rows.append((k, name, -res.mean, res.ci))
    rows.append((k, "from scratch", *from_scratch_mse(test)))

print(f"{'K':>3}  {'learner':<20} {'query MSE':>10}  95% CI")
for k, name, m, ci in rows:
    print(f"{k:>3}  {name:<20} {m:>10.3f}  +/- {ci:.3f}")

# %%
# Adapted curves
# --------------
# Four new tasks, K=5: the truth, the support points and each adapted model.
sampler = SinusoidTasks(n_support=5, n_query=0)
X, y, amp, phase = sampler.sample_arrays(4, random_state=7)
grid = np.linspace(-5, 5, 200)[:, None]
fig, axes = plt.subplots(2, 2, figsize=(9, 6), sharex=True, sharey=True)
for ax, Xs, ys, a, p in zip(axes.flat, X, y, amp, phase):
    ax.plot(grid, a * np.sin(grid[:, 0] - p), "k", lw=2, label="truth")
    ax.plot(grid, maml.predict(grid), ":", c="grey",
            label="MAML before adapting")
    ax.plot(grid, maml.adapt(Xs, ys).predict(grid), c="C0",
            label="MAML, 10 steps")
    ax.plot(grid, finetune.adapt(Xs, ys).predict(grid), c="C1",
            label="fine-tune, 10 steps")
    ax.scatter(Xs[:, 0], ys, c="C3", zorder=3, label="support (K=5)")
for ax in axes[1]:
    ax.set_xlabel("x")
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center",
           ncol=5, fontsize=9, frameon=False)
fig.suptitle("Adapting to new sinusoids from 5 points")
fig.tight_layout(rect=(0, 0.05, 1, 1))
fig.savefig("sinusoid_demo.png", dpi=110)
print("figure written to sinusoid_demo.png")

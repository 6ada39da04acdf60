"""Tiny synthetic few-shot data for the tests, a hand-written conv4 forward pass, and
embeddings of a fitted metric learner computed outside the estimator.

``make_images``: each class is a random binary template of 4x4 blocks (so
that a small conv4 with pooling can see it) plus strong Gaussian noise; a
random conv4 embedding is close to chance on it, a meta-trained one is not.
``make_tabular``: each class is a Gaussian blob in a few informative
features, hidden among many high-variance noise features; an embedding that
learns to ignore the noise features wins.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call


def make_images(n_classes, n_per_class, size=16, block=4, noise=1.0, random_state=0):
    """Images ``(n, size, size)`` (float32) and string labels ``"c00"``, ``"c01"``, ..."""
    rng = np.random.RandomState(random_state)
    g = -(-size // block)
    templates = (rng.rand(n_classes, g, g) < 0.5).astype(np.float32)
    templates = templates.repeat(block, 1).repeat(block, 2)[:, :size, :size]
    X = templates[:, None] + noise * rng.randn(n_classes, n_per_class, size, size)
    y = np.array([f"c{c:02d}" for c in range(n_classes)]).repeat(n_per_class)
    return X.reshape(-1, size, size).astype(np.float32), y


def make_tabular(n_classes, n_per_class, n_informative=4, n_noise=16, noise=3.0,
                 random_state=0):
    """Rows ``(n, n_informative + n_noise)`` and string labels ``"c00"``, ..."""
    rng = np.random.RandomState(random_state)
    centers = 2 * rng.randn(n_classes, n_informative)
    Xi = centers[:, None] + 0.5 * rng.randn(n_classes, n_per_class, n_informative)
    Xn = noise * rng.randn(n_classes, n_per_class, n_noise)
    X = np.concatenate([Xi, Xn], axis=2).reshape(n_classes * n_per_class, -1)
    y = np.array([f"c{c:02d}" for c in range(n_classes)]).repeat(n_per_class)
    return X, y


def split_classes(y, n_train):
    """The first ``n_train`` classes for meta-training, the rest held out."""
    classes = np.unique(y)
    return classes[:n_train], classes[n_train:]


def mean_accuracy(est, tasks):
    """Mean query accuracy after adapting to each task's support set."""
    return float(np.mean([est.adapt(t.X_support, t.y_support).score(t.X_query, t.y_query)
                          for t in tasks]))


def conv4_reference(w, x, image_shape, n_ref=None, n_blocks=4, eps=1e-5):
    """Conv4 written out with plain torch ops, from the weights ``w`` by name.

    Blocks of 3x3 convolution (padding 1), batch norm with the biased
    per-channel statistics of the first ``n_ref`` rows (all rows when
    ``None``), ReLU and 2x2 max pooling with ceil mode; flattened.
    """
    x = x.reshape((x.shape[0],) + tuple(image_shape))
    if x.dim() == 3:
        x = x[:, None]
    for i in range(n_blocks):
        conv, norm = f"blocks.{4 * i}", f"blocks.{4 * i + 1}"
        x = F.conv2d(x, w[conv + ".weight"], w[conv + ".bias"], padding=1)
        ref = x if n_ref is None else x[:n_ref]
        mean = ref.mean(dim=(0, 2, 3), keepdim=True)
        var = ((ref - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        x = ((x - mean) / torch.sqrt(var + eps) * w[norm + ".weight"][None, :, None, None]
             + w[norm + ".bias"][None, :, None, None])
        x = F.max_pool2d(torch.relu(x), 2, ceil_mode=True)
    return x.flatten(1)


def _f64(a):
    return torch.tensor(np.asarray(a, dtype=np.float32), dtype=torch.float64)


def embeddings(est, X_support, X_query):
    """Support and query embeddings computed from ``module_`` and ``meta_params_``:
    for conv4, batch norm with the statistics of the support rows. As in the
    estimators, the support rows are stored in float32, query rows predicted in float64."""
    w = {k: v.detach().double() for k, v in est.meta_params_["w"].items() if k[0] != "@"}
    xs, xq = _f64(X_support), torch.as_tensor(np.asarray(X_query, dtype=np.float64))
    if est.module == "conv4":
        image = est.module_.image_shape
        es = conv4_reference(w, xs, image)
        eq = conv4_reference(w, torch.cat([xs, xq]), image, n_ref=len(xs))[len(xs):]
        return es, eq
    return functional_call(est.module_, w, (xs,)), functional_call(est.module_, w, (xq,))

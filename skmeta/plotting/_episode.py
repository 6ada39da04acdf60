"""A few-shot image episode: the support set by class, the query set with predictions."""

import math

import numpy as np
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from ._base import check_ax, import_pyplot

__all__ = ["EpisodeDisplay"]

_CHANNELS = (1, 3, 4)


def _as_images(X, image_shape, name):
    """``X`` as images of shape (n, H, W) or (n, H, W, C) for ``imshow``."""
    X = np.asarray(X)
    if X.ndim < 2 or not np.issubdtype(X.dtype, np.number):
        raise ValueError(f"{name} must be a numeric array of shape (n, n_features), "
                         f"(n, H, W) or (n, C, H, W); got shape {X.shape}")
    n, size = len(X), math.prod(X.shape[1:])
    if image_shape is not None:
        shape = tuple(image_shape)
        if len(shape) not in (2, 3) or math.prod(shape) != size:
            raise ValueError(f"image_shape={image_shape!r} does not fit the rows of {name}, "
                             f"of shape {X.shape[1:]}")
        X = X.reshape(n, *shape)
    elif X.ndim == 2:
        side = math.isqrt(size)
        if side * side != size:
            raise ValueError(f"{name} has rows of {size} features, not a square image: "
                             "pass image_shape")
        X = X.reshape(n, side, side)
    if X.ndim == 4:
        if X.shape[1] in _CHANNELS:  # (C, H, W)
            X = np.moveaxis(X, 1, -1)
        elif X.shape[-1] not in _CHANNELS:
            raise ValueError(f"{name} has images of shape {X.shape[1:]}: expected 1, 3 or "
                             "4 channels, first or last")
        if X.shape[-1] == 1:
            X = X[..., 0]
    if X.ndim not in (3, 4):
        raise ValueError(f"{name} must hold 2-D images; got shape {X.shape}")
    return X.astype(float)


#: Layout of a new figure, in inches: image side, then the margins around the
#: bounding axes.
_CELL, _LEFT, _RIGHT, _TOP, _BOTTOM = 1.0, 1.0, 0.2, 0.2, 0.2
#: Gaps between images, as fractions of an image's height and width.
_HSPACE, _WSPACE = 0.5, 0.1
#: Height of the header row, which holds the title, in images.
_HEADER = 0.3


def _new_bounding_ax(plt, n_rows, widths):
    """Axes of a new figure sized so every image cell is a square of ``_CELL`` inches."""
    n_cols, heights = len(widths), _HEADER + n_rows
    width = _CELL * (sum(widths) + (n_cols - 1) * _WSPACE * sum(widths) / n_cols)
    height = _CELL * (heights + n_rows * _HSPACE * heights / (n_rows + 1))
    fig_w, fig_h = _LEFT + width + _RIGHT, _TOP + height + _BOTTOM
    fig = plt.figure(figsize=(fig_w, fig_h))
    fig.subplots_adjust(left=_LEFT / fig_w, right=1 - _RIGHT / fig_w, top=1 - _TOP / fig_h,
                        bottom=_BOTTOM / fig_h)
    return fig.add_subplot()


def _grid(ax, n_rows, widths):
    """A grid filling the bounding axes ``ax``: row 0 is a header (for the
    title, with the first images' titles below it), rows 1 to ``n_rows`` hold
    the images, in columns of ``widths``."""
    spec = ax.get_subplotspec()
    if spec is None:
        raise ValueError("ax must be a subplot (made by plt.subplots or add_subplot), "
                         "whose area the episode's grid fills")
    ax.set_axis_off()
    return spec.subgridspec(n_rows + 1, len(widths), width_ratios=widths,
                            height_ratios=[_HEADER] + [1] * n_rows, wspace=_WSPACE,
                            hspace=_HSPACE)


class EpisodeDisplay:
    """A few-shot image episode: support images by class, query images with predictions.

    Each row is one class: its support images on the left, then the query
    images of that true class, titled with the predicted and the true
    label. A wrong prediction has a red title and a red frame. Use
    :meth:`from_estimator` or :meth:`from_predictions` to create it; they
    call :meth:`plot`.

    Parameters
    ----------
    support_images : ndarray of shape (n_support, H, W) or (n_support, H, W, C)
        Support images.
    y_support : ndarray of shape (n_support,)
        Support labels.
    query_images : ndarray of shape (n_query, H, W) or (n_query, H, W, C)
        Query images.
    y_query : ndarray of shape (n_query,)
        True query labels.
    y_pred : ndarray of shape (n_query,)
        Predicted query labels.

    Attributes
    ----------
    support_axes_ : list of matplotlib Axes
        The axes of each support image, in the order of ``y_support``.
    query_axes_ : list of matplotlib Axes
        The axes of each query image, in the order of ``y_query``.
    mistakes_ : ndarray of bool of shape (n_query,)
        Where ``y_pred`` differs from ``y_query``.
    ax_ : matplotlib Axes
        The bounding axes (hidden) whose area the grid of images fills; its
        title counts the correct predictions.
    figure_ : matplotlib Figure
        Figure containing the images.

    Examples
    --------
    >>> from skmeta import ProtoNetClassifier
    >>> from skmeta.datasets import load_digits_tasks
    >>> from skmeta.plotting import EpisodeDisplay
    >>> train, test = load_digits_tasks(n_way=3, k_shot=2, n_query=2, n_train_tasks=20,
    ...                                 n_test_tasks=1, random_state=0)
    >>> est = ProtoNetClassifier(hidden_layer_sizes=(16,), max_iter=5,
    ...                          random_state=0).fit(train)
    >>> t = test[0]
    >>> disp = EpisodeDisplay.from_estimator(est, t.X_support, t.y_support,
    ...                                      t.X_query, t.y_query)
    >>> len(disp.support_axes_), len(disp.query_axes_)
    (6, 6)
    >>> disp.support_images.shape  # rows of 64 pixels shown as 8x8 images
    (6, 8, 8)
    """

    def __init__(self, *, support_images, y_support, query_images, y_query, y_pred):
        self.support_images = support_images
        self.y_support = y_support
        self.query_images = query_images
        self.y_query = y_query
        self.y_pred = y_pred

    @classmethod
    def from_estimator(cls, estimator, X_support, y_support, X_query, y_query, *,
                       image_shape=None, ax=None, cmap="gray"):
        """Adapt a fitted classifier to the support set, predict the query set, and plot.

        Parameters
        ----------
        estimator : fitted classifier with ``adapt``
            A meta-trained classifier; it is adapted to ``X_support`` (which
            does not change it).
        X_support : array-like of shape (n_support, ...)
            Support images, as the estimator takes them: flat rows of shape
            ``(n_support, n_features)``, or images ``(n_support, H, W)`` or
            ``(n_support, C, H, W)``.
        y_support : array-like of shape (n_support,)
            Support labels (ints, strings, ...).
        X_query : array-like of shape (n_query, ...)
            Query images, shaped as ``X_support``.
        y_query : array-like of shape (n_query,)
            True query labels.
        image_shape : tuple of int, default=None
            Shape of one image, ``(H, W)`` or ``(C, H, W)``, to show flat
            rows; None: rows of ``H * H`` features are square images.
        ax : matplotlib Axes, default=None
            Subplot whose area the grid of images fills; None makes a new
            figure.
        cmap : str or matplotlib Colormap, default="gray"
            Colormap of one-channel images.

        Returns
        -------
        display : EpisodeDisplay

        Examples
        --------
        >>> from skmeta import ProtoNetClassifier
        >>> from skmeta.datasets import load_digits_tasks
        >>> from skmeta.plotting import EpisodeDisplay
        >>> train, test = load_digits_tasks(n_way=2, k_shot=1, n_query=3, n_train_tasks=10,
        ...                                 n_test_tasks=1, images=True, random_state=0)
        >>> est = ProtoNetClassifier(hidden_layer_sizes=(8,), max_iter=3,
        ...                          random_state=0).fit(train)
        >>> t = test[0]
        >>> disp = EpisodeDisplay.from_estimator(est, t.X_support, t.y_support,
        ...                                      t.X_query, t.y_query)
        >>> disp.y_pred.shape
        (6,)
        """
        check_is_fitted(estimator)
        if not hasattr(estimator, "adapt"):
            raise TypeError(f"estimator must have an adapt method; got "
                            f"{type(estimator).__name__}")
        y_pred = estimator.adapt(X_support, y_support).predict(X_query)
        return cls.from_predictions(X_support, y_support, X_query, y_query, y_pred,
                                    image_shape=image_shape, ax=ax, cmap=cmap)

    @classmethod
    def from_predictions(cls, X_support, y_support, X_query, y_query, y_pred, *,
                         image_shape=None, ax=None, cmap="gray"):
        """Plot an episode and given predictions for its query set.

        Parameters
        ----------
        X_support : array-like of shape (n_support, ...)
            Support images: flat rows of shape ``(n_support, n_features)``,
            or images ``(n_support, H, W)`` or ``(n_support, C, H, W)``;
            ``(n_support, H, W, C)`` with 1, 3 or 4 channels last is read too.
        y_support : array-like of shape (n_support,)
            Support labels (ints, strings, ...).
        X_query : array-like of shape (n_query, ...)
            Query images, shaped as ``X_support``.
        y_query : array-like of shape (n_query,)
            True query labels.
        y_pred : array-like of shape (n_query,)
            Predicted query labels.
        image_shape : tuple of int, default=None
            Shape of one image, ``(H, W)`` or ``(C, H, W)``, to show flat
            rows; None: rows of ``H * H`` features are square images.
        ax : matplotlib Axes, default=None
            Subplot whose area the grid of images fills; None makes a new
            figure.
        cmap : str or matplotlib Colormap, default="gray"
            Colormap of one-channel images.

        Returns
        -------
        display : EpisodeDisplay

        Examples
        --------
        >>> import numpy as np
        >>> from skmeta.plotting import EpisodeDisplay
        >>> rng = np.random.RandomState(0)
        >>> X_support, X_query = rng.uniform(size=(2, 25)), rng.uniform(size=(3, 25))
        >>> disp = EpisodeDisplay.from_predictions(
        ...     X_support, ["cat", "dog"], X_query, ["cat", "dog", "dog"],
        ...     y_pred=["cat", "cat", "dog"])
        >>> disp.mistakes_
        array([False,  True, False])
        >>> print(disp.query_axes_[1].get_title())
        pred: cat
        true: dog
        """
        support = _as_images(X_support, image_shape, "X_support")
        query = _as_images(X_query, image_shape, "X_query")
        if support.shape[1:] != query.shape[1:]:
            raise ValueError(f"X_support has images of shape {support.shape[1:]} but "
                             f"X_query of shape {query.shape[1:]}")
        y_support, y_query, y_pred = (np.asarray(y) for y in (y_support, y_query, y_pred))
        for name, y in (("y_support", y_support), ("y_query", y_query), ("y_pred", y_pred)):
            if y.ndim != 1:
                raise ValueError(f"{name} must be 1-D; got shape {y.shape}")
        check_consistent_length(support, y_support)
        check_consistent_length(query, y_query, y_pred)
        display = cls(support_images=support, y_support=y_support, query_images=query,
                      y_query=y_query, y_pred=y_pred)
        return display.plot(ax=ax, cmap=cmap)

    def plot(self, ax=None, *, cmap="gray"):
        """Draw the episode.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Subplot whose area the grid of images fills (it is hidden);
            None makes a new figure sized to the episode.
        cmap : str or matplotlib Colormap, default="gray"
            Colormap of one-channel images.

        Returns
        -------
        display : EpisodeDisplay
            This display, with the artists drawn.

        Examples
        --------
        >>> import matplotlib.pyplot as plt
        >>> import numpy as np
        >>> from skmeta.plotting import EpisodeDisplay
        >>> images = np.random.RandomState(0).uniform(size=(4, 5, 5))
        >>> disp = EpisodeDisplay(support_images=images[:2], y_support=np.array([0, 1]),
        ...                       query_images=images[2:], y_query=np.array([0, 1]),
        ...                       y_pred=np.array([0, 1]))
        >>> fig, (ax_episode, ax_other) = plt.subplots(2, 1, figsize=(4, 6))
        >>> disp = disp.plot(ax=ax_episode, cmap="viridis")
        >>> len(fig.axes)  # the two subplots and the four images
        6
        """
        classes = np.unique(np.concatenate([self.y_support, self.y_query]))
        rows_s = [np.flatnonzero(self.y_support == c) for c in classes]
        rows_q = [np.flatnonzero(self.y_query == c) for c in classes]
        n_s = max(len(r) for r in rows_s)
        n_q = max(len(r) for r in rows_q)
        widths = [1] * n_s + ([0.3] + [1] * n_q if n_q else [])
        if ax is None:
            ax = _new_bounding_ax(import_pyplot(type(self).__name__), len(classes), widths)
        ax = check_ax(ax, type(self).__name__)
        grid = _grid(ax, len(classes), widths)
        lo = min(self.support_images.min(), self.query_images.min())
        hi = max(self.support_images.max(), self.query_images.max())

        def show(image, cell):
            sub = ax.figure.add_subplot(cell)
            sub.imshow((image - lo) / (hi - lo or 1), cmap=cmap, vmin=0, vmax=1)
            sub.set_xticks([])
            sub.set_yticks([])
            sub.spines[:].set_visible(False)
            return sub

        self.mistakes_ = self.y_pred != self.y_query
        self.support_axes_ = [None] * len(self.y_support)
        self.query_axes_ = [None] * len(self.y_query)
        for row, (c, idx_s, idx_q) in enumerate(zip(classes, rows_s, rows_q), start=1):
            for col, i in enumerate(idx_s):
                self.support_axes_[i] = show(self.support_images[i], grid[row, col])
            if len(idx_s):
                self.support_axes_[idx_s[0]].set_ylabel(str(c), rotation=0, ha="right",
                                                        va="center")
                if row == 1:
                    self.support_axes_[idx_s[0]].set_title("support", fontsize="small")
            for col, i in enumerate(idx_q, start=n_s + 1):
                sub = self.query_axes_[i] = show(self.query_images[i], grid[row, col])
                color = "red" if self.mistakes_[i] else "black"
                sub.set_title(f"pred: {self.y_pred[i]}\ntrue: {self.y_query[i]}",
                              color=color, fontsize="small")
                if self.mistakes_[i]:
                    sub.spines[:].set_visible(True)
                    sub.spines[:].set_color("red")
                    sub.spines[:].set_linewidth(3)
        n_right = len(self.y_query) - int(self.mistakes_.sum())
        ax.set_title(f"query: {n_right} of {len(self.y_query)} predicted right "
                     "(mistakes in red)", y=1, pad=0, verticalalignment="top")
        self.ax_, self.figure_ = ax, ax.figure
        return self

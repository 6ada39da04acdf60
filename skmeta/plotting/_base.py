"""What the displays share: the lazy matplotlib import and the ``ax`` check."""

__all__ = ["import_pyplot", "check_ax", "check_kwargs"]


def import_pyplot(caller):
    """``matplotlib.pyplot``, or an ImportError naming ``caller`` and the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, skmeta's optional 'plots' extra: "
            "pip install 'skmeta[plots]' (or pip install matplotlib)"
        ) from exc
    return plt


def check_ax(ax, caller, **subplots_kw):
    """``ax`` if it is a matplotlib Axes, new axes (``plt.subplots``) if None."""
    plt = import_pyplot(caller)
    if ax is None:
        return plt.subplots(**subplots_kw)[1]
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes or None; got {type(ax).__name__}")
    return ax


def check_kwargs(kwargs, name):
    """A dict of keyword arguments for a matplotlib call (None: empty)."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, dict):
        raise TypeError(f"{name} must be a dict or None; got {type(kwargs).__name__}")
    return dict(kwargs)

"""Parameters routed as in skorch: ``module__*`` to the network, every other
unknown name an error that names it."""

__all__ = ["RoutedParamsMixin", "store_params"]


def store_params(est, params):
    """The body of every ``__init__``: store each argument, route ``module__*``."""
    kwargs = params.pop("kwargs", {})
    params.pop("self", None)
    params.pop("__class__", None)
    for key, value in params.items():
        setattr(est, key, value)
    for key, value in kwargs.items():  # module__* routing; others rejected in fit
        setattr(est, key, value)


class RoutedParamsMixin:
    """``get_params``/``set_params`` with ``module__*`` routing (skorch's
    convention): ``set_params`` refuses an unknown name at once; an unknown
    keyword given to ``__init__`` is kept (scikit-learn validates in ``fit``),
    survives ``clone``, and :meth:`_check_unknown_params` names it in ``fit``."""

    def get_params(self, deep=True):
        """Get parameters, ``module__*`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of contained estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        # module__* parameters, and any unknown keyword given to __init__, so
        # that clone keeps it and fit rejects it by name
        params.update({k: v for k, v in vars(self).items() if k in self._extra_names()})
        return params

    def set_params(self, **params):
        """Set parameters; ``module__*`` ones are routed to the module.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator
            The estimator, with the new parameters.

        Raises
        ------
        ValueError
            For a name that is neither a parameter nor ``module__*``.
        """
        routed = {k: params.pop(k) for k in list(params) if k.startswith("module__")}
        for key, value in routed.items():
            setattr(self, key, value)
        return super().set_params(**params)  # raises ValueError on unknown names

    def _extra_names(self):
        """Stored keywords that are not ``__init__`` parameters (``module__*``, typos)."""
        known = set(self._get_param_names())
        return [k for k in vars(self) if not (k in known or k.startswith("_") or k.endswith("_"))]

    def _module_kwargs(self):
        return {k[len("module__"):]: v for k, v in vars(self).items()
                if k.startswith("module__")}

    def _check_unknown_params(self):
        unknown = [k for k in self._extra_names() if not k.startswith("module__")]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unknown parameters {sorted(unknown)}; only "
                "module__* parameters are routed to the module"
            )

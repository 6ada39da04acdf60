"""scikit-learn's estimator checks over every public estimator skmeta exports."""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skmeta import MAMLClassifier, MAMLRegressor, MetaHyperparamSearch, MetaPipeline

from ._instances import all_instances, fast_instance

#: Checks that fail for a real property of meta-learning, each with its reason.
EXPECTED_FAILED = {
    # a Pipeline fits its step objects in place (as sklearn.pipeline.Pipeline
    # does), so the ``steps`` parameter's objects gain fitted attributes; the
    # checks hash every parameter value, estimators included
    "MetaPipeline": {
        "check_estimators_overwrite_params":
            "Pipeline steps are fitted in place, as in sklearn.pipeline.Pipeline",
        "check_dont_overwrite_parameters":
            "Pipeline steps are fitted in place, as in sklearn.pipeline.Pipeline",
    },
}


@parametrize_with_checks(
    all_instances(random_state=0)
    + [MetaPipeline([("scale", StandardScaler()), ("learner", fast_instance(cls, random_state=0))])
       for cls in (MAMLRegressor, MAMLClassifier)]
    # fit(X, y): the row folds of cv are the tasks, then it adapts to all of (X, y)
    + [MetaHyperparamSearch(Ridge(), {"alpha": [0.1, 1.0]}),
       MetaHyperparamSearch(LogisticRegression(), {"C": [0.1, 1.0]})],
    expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)

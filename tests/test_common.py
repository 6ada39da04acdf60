"""scikit-learn's estimator checks over every public estimator skmeta exports."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from ._instances import all_estimators, fast_instance

#: Checks that fail for a real property of meta-learning, each with its reason.
EXPECTED_FAILED = {}


@parametrize_with_checks(
    [fast_instance(cls, random_state=0) for cls in all_estimators()],
    expected_failed_checks=lambda est: EXPECTED_FAILED.get(type(est).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)

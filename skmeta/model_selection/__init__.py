"""Model selection over tasks: splitters, task-level cross-validation, few-shot evaluation,
hyperparameter search across tasks."""

from ._evaluate import evaluate_tasks
from ._search import MetaHyperparamSearch
from ._split import TaskKFold, TaskShuffleSplit
from ._validation import cross_validate_tasks

__all__ = ["TaskKFold", "TaskShuffleSplit", "cross_validate_tasks", "evaluate_tasks",
           "MetaHyperparamSearch"]

"""Model selection over tasks: few-shot evaluation."""

from ._evaluate import evaluate_tasks

__all__ = ["evaluate_tasks"]

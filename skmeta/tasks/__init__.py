"""Tasks: the container, normalisation and validation, and task samplers.

This subpackage imports no torch.
"""

from ._samplers import EpisodeSampler, SubsetSampler, TaskSampler
from ._task import Task, check_task_batch, check_tasks

__all__ = ["Task", "check_tasks", "check_task_batch", "TaskSampler", "EpisodeSampler", "SubsetSampler"]

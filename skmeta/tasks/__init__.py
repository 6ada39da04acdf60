"""Tasks: the container, normalisation and validation, and task samplers.

This subpackage imports no torch.
"""

from ._samplers import EpisodeSampler, SubsetSampler, TaskSampler
from ._task import Task, check_tasks

__all__ = ["Task", "check_tasks", "TaskSampler", "EpisodeSampler", "SubsetSampler"]

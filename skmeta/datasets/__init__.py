"""Task generators and data loaders. This subpackage imports no torch."""

from ._digits import load_digits_tasks
from ._fewshot import make_fewshot_tasks
from ._omniglot import load_omniglot
from ._sinusoid import SinusoidTasks, make_sinusoid_tasks

__all__ = ["SinusoidTasks", "make_sinusoid_tasks", "make_fewshot_tasks", "load_omniglot",
           "load_digits_tasks"]

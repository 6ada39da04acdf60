import os

import numpy as np
import pytest
import torch

if "PYTEST_XDIST_WORKER" in os.environ:
    # each xdist worker gets one core's worth of torch threads, so the workers
    # do not compete for the same cores
    n_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_workers))


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seed torch and numpy for every test (skorch's pattern)."""
    torch.manual_seed(0)
    np.random.seed(0)
    yield

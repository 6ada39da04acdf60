import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _seed_everything():
    """Seed torch and numpy for every test (skorch's pattern)."""
    torch.manual_seed(0)
    np.random.seed(0)
    yield

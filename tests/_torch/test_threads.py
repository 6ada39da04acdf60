import threading

import pytest
import torch
from torch import nn

from skmeta._torch._threads import (SERIAL_MACS, choose_num_threads, forward_macs,
                                    intra_op_threads, threads_for)


@pytest.fixture(autouse=True)
def _keep_thread_count():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def mlp(hidden=(40, 40), n_in=1, n_out=1):
    layers, width = [], n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def conv4():
    layers, width = [], 1
    for _ in range(4):
        layers += [nn.Conv2d(width, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
                   nn.MaxPool2d(2, ceil_mode=True)]
        width = 64
    return nn.Sequential(nn.Unflatten(1, (1, 28)), *layers, nn.Flatten())


def test_restores_previous_count():
    torch.set_num_threads(3)
    with intra_op_threads(1) as ctx:
        assert torch.get_num_threads() == 1
        ctx.set(2)
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 3


def test_restores_on_exception():
    torch.set_num_threads(2)
    with pytest.raises(KeyError):
        with intra_op_threads(1):
            assert torch.get_num_threads() == 1
            raise KeyError("boom")
    assert torch.get_num_threads() == 2


def test_none_leaves_count():
    torch.set_num_threads(2)
    with intra_op_threads(None):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 2


def test_invalid_count():
    with pytest.raises(ValueError):
        intra_op_threads(0)


def _run_in_thread(fn):
    out = {}

    def target():
        try:
            out["value"] = fn()
        except BaseException as exc:  # pragma: no cover - reported below
            out["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    return t, out


def test_does_not_change_another_threads_count():
    """A thread that has run torch keeps its count while another is inside."""
    ready, inside, done = threading.Event(), threading.Event(), threading.Event()

    def worker():
        torch.set_num_threads(3)
        # torch initialises a thread's count lazily, at its first parallel op
        # or get_num_threads (set_num_threads alone does not count)
        assert torch.get_num_threads() == 3
        ready.set()
        inside.wait(10)
        seen = torch.get_num_threads()
        x = torch.randn(64, 64)
        x @ x  # runs a kernel with the worker's own count
        done.set()
        return seen, torch.get_num_threads()

    t, out = _run_in_thread(worker)
    assert ready.wait(10)
    torch.set_num_threads(2)
    with intra_op_threads(1):
        inside.set()
        assert done.wait(10)
        assert torch.get_num_threads() == 1
    t.join(10)
    assert "error" not in out
    assert out["value"] == (3, 3)
    assert torch.get_num_threads() == 2


def test_context_in_worker_leaves_main_count():
    torch.set_num_threads(2)
    torch.get_num_threads()
    inside, release = threading.Event(), threading.Event()

    def worker():
        with intra_op_threads(1):
            inside.set()
            release.wait(10)
            return torch.get_num_threads()

    t, out = _run_in_thread(worker)
    assert inside.wait(10)
    assert torch.get_num_threads() == 2
    release.set()
    t.join(10)
    assert out["value"] == 1
    assert torch.get_num_threads() == 2


def test_exit_from_other_thread_raises():
    ctx = intra_op_threads(1)
    ctx.__enter__()
    try:
        t, out = _run_in_thread(lambda: ctx.__exit__(None, None, None))
        t.join(10)
        assert isinstance(out.get("error"), RuntimeError)
    finally:
        ctx.__exit__(None, None, None)


def test_chooser_threshold():
    assert choose_num_threads(0, available=4) == 1
    assert choose_num_threads(SERIAL_MACS - 1, available=4) == 1
    assert choose_num_threads(SERIAL_MACS, available=4) == 4
    torch.set_num_threads(3)
    assert choose_num_threads(10 * SERIAL_MACS) == 3


def test_small_mlp_gets_one_thread():
    # MAML sinusoid: meta-batch 25, 10 support + 10 query rows, 2x40 MLP
    xs, xq = torch.zeros(25, 10, 1), torch.zeros(25, 10, 1)
    assert threads_for(mlp(), xs, xq, batch_dims=2, available=8) == 1
    # tabular classification: 20 features, 5-way 5+5, meta-batch 25
    xs, xq = torch.zeros(25, 25, 20), torch.zeros(25, 25, 20)
    assert threads_for(mlp(n_in=20, n_out=5), xs, xq, batch_dims=2, available=8) == 1


@pytest.mark.parametrize("n_way", [5, 20])
def test_conv4_gets_available_threads(n_way):
    net = conv4()
    xs = torch.zeros(1, n_way * 1, 28, 28)  # 1-shot, 1 query: the smallest episodes
    xq = torch.zeros(1, n_way * 1, 28, 28)
    assert threads_for(net, xs, xq, batch_dims=2, available=8) == 8
    torch.set_num_threads(2)
    assert threads_for(net, xs, xq, batch_dims=2) == 2


def test_forward_macs_counts_and_keeps_state():
    net = mlp()
    assert forward_macs(net, torch.zeros(7, 1)) == pytest.approx(40 + 40 * 40 + 40)
    c = conv4().train()
    bn = c[2]
    before = bn.running_mean.clone()
    macs = forward_macs(c, torch.randn(3, 28, 28))
    assert macs > 5e6  # one 28x28 image through conv4: about 10 M multiply-adds
    assert c.training and torch.equal(bn.running_mean, before)


def test_forward_macs_falls_back_to_parameters():
    class NeedsTwoArgs(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 2)

        def forward(self, x, y):
            return self.lin(x) + y

    assert forward_macs(NeedsTwoArgs(), torch.zeros(4, 3)) == 3 * 2 + 2

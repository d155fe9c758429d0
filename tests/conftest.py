"""Shared fixtures. Real UCR/UEA data lives beside the repository in ../shared/data/ucr
(or wherever TSCAM_WIDGET_DATA points); a missing folder fails the test, never skips it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ucr_dir() -> Path:
    path = Path(os.environ.get("TSCAM_WIDGET_DATA", ROOT.parent / "shared" / "data" / "ucr"))
    if not (path / "GunPoint").is_dir():
        pytest.fail(f"real UCR data not found at {path}: set TSCAM_WIDGET_DATA")
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on shared cores: one torch thread is ~10x faster than many (modules opt in
    with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


#: every hook dict torch keeps per module
HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
)


class ModelState:
    """What the package must leave of a user's model as it found it: the weights, each
    parameter's ``.grad`` (the same tensor, the same values), ``requires_grad``, every module's
    training flag and hooks (read only: each hook dict's ids and functions, so a hook left
    behind anywhere, or a user's hook dropped, shows)."""

    def __init__(self, model) -> None:
        self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self.grads = [
            (p.grad, None if p.grad is None else p.grad.clone()) for p in model.parameters()
        ]
        self.requires_grad = [p.requires_grad for p in model.parameters()]
        self.training = [m.training for m in model.modules()]
        self.hooks = [
            {k: list(getattr(m, k).items()) for k in HOOK_DICTS if hasattr(m, k)}
            for m in model.modules()
        ]

    def assert_unchanged(self, model) -> None:
        """Asserts that ``model`` is as it was when this snapshot was taken."""
        import torch

        now = ModelState(model)
        assert now.weights.keys() == self.weights.keys()
        for k, v in self.weights.items():
            assert torch.equal(v, now.weights[k]), k
        for (g0, v0), (g1, v1) in zip(self.grads, now.grads, strict=True):
            assert g0 is g1
            assert (v0 is None and v1 is None) or torch.equal(v0, v1)
        assert now.requires_grad == self.requires_grad
        assert now.training == self.training
        assert now.hooks == self.hooks


@pytest.fixture
def model_state():
    """``before = model_state(model)``, then ``before.assert_unchanged(model)``."""
    return ModelState

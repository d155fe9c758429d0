"""tscam_widget.models: shapes, named blocks, equivalence with tsai's implementations (weights
copied over), training, save/load and input errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tscam_widget.models import (
    FCN,
    InceptionTime,
    ResNet1d,
    accuracy,
    build_model,
    load,
    predict,
    save,
    train,
)
from tscam_widget.models.fcn_resnet import SameConv1d

N_CLASSES = 3


@pytest.fixture(autouse=True)
def one_thread():
    """Run these small models on one thread: on a shared, busy 2-core machine two OpenMP threads
    spin-wait on each other and were 7x slower (CPU time) in a measurement."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def randomise_bn(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial running stats and affine parameters, so that eval-mode
    comparisons exercise them."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.1)


def bump_problem(n: int, seed: int, length: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """2 classes: a Gaussian bump of height 2 at a random place ("bump") or none ("flat"),
    both with noise of std 0.3. Returns X float32 [n, 1, length], y str [n]."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.3, size=(n, 1, length))
    y = np.array(["bump", "flat"])[np.arange(n) % 2]
    t = np.arange(length)
    for i in np.flatnonzero(y == "bump"):
        c = rng.integers(4, length - 4)
        X[i, 0] += 2.0 * np.exp(-0.5 * ((t - c) / 2.0) ** 2)
    return X.astype(np.float32), y


@pytest.mark.parametrize("name", ["inceptiontime", "fcn", "resnet"])
@pytest.mark.parametrize("c_in", [1, 6])
def test_output_shapes(name: str, c_in: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, c_in, N_CLASSES).eval()
    for length in (24, 57, 128):
        with torch.no_grad():
            out = model(torch.randn(2, c_in, length))
        assert out.shape == (2, N_CLASSES)
        assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "name, n_blocks, last_channels",
    [("inceptiontime", 6, 128), ("fcn", 3, 128), ("resnet", 3, 128)],
)
def test_blocks_chain_into_gap_and_head(name: str, n_blocks: int, last_channels: int) -> None:
    torch.manual_seed(1)
    model = build_model(name, 2, N_CLASSES)
    randomise_bn(model)
    model.eval()
    names = {n for n, _ in model.named_modules()}
    assert {f"blocks.{i}" for i in range(n_blocks)} <= names
    assert f"blocks.{n_blocks}" not in names
    assert isinstance(model.head, nn.Linear) and "gap" in names

    outputs, inputs = {}, {}
    for i, block in enumerate(model.blocks):
        block.register_forward_hook(lambda m, a, o, i=i: outputs.__setitem__(i, o))
        block.register_forward_pre_hook(lambda m, a, i=i: inputs.__setitem__(i, a[0]))
    model.gap.register_forward_pre_hook(lambda m, a: inputs.__setitem__("gap", a[0]))
    x = torch.randn(3, 2, 40)
    with torch.no_grad():
        logits = model(x)
    # every block's output is exactly the tensor the next block (or the GAP) consumes
    for i in range(n_blocks - 1):
        assert inputs[i + 1] is outputs[i]
    assert inputs["gap"] is outputs[n_blocks - 1]
    last = outputs[n_blocks - 1]
    assert last.shape == (3, last_channels, 40)
    manual = last.mean(-1) @ model.head.weight.T + model.head.bias
    torch.testing.assert_close(manual, logits, rtol=1e-5, atol=1e-6)


def test_inceptiontime_shortcuts_live_in_stage_closing_blocks() -> None:
    model = InceptionTime(4, N_CLASSES)
    with_shortcut = [i for i, b in enumerate(model.blocks) if b.shortcut is not None]
    assert with_shortcut == [2, 5]
    assert model.blocks[2].shortcut[0].weight.shape == (128, 4, 1)  # stage input: c_in channels
    assert model.blocks[5].shortcut[0].weight.shape == (128, 128, 1)
    assert [c.kernel_size[0] for c in model.blocks[0].convs] == [39, 19, 9]
    assert model.blocks[0].bottleneck.weight.shape == (32, 4, 1)
    assert InceptionTime(1, N_CLASSES).blocks[0].bottleneck is None  # skipped for c_in == 1


def _tsai_inceptiontime(c_in: int) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tsai.models.InceptionTime import InceptionTime as TsaiInceptionTime
    return TsaiInceptionTime(c_in, N_CLASSES)  # tsai defaults: nf=32, depth=6, ks=40 -> 39/19/9


@pytest.mark.parametrize("c_in", [1, 6])
def test_inceptiontime_matches_tsai(c_in: int) -> None:
    torch.manual_seed(2)
    ref = _tsai_inceptiontime(c_in)
    ours = InceptionTime(c_in, N_CLASSES)
    # Comparable parts: every inception module has the same parameter count as tsai's; the
    # only difference is the second shortcut (128 -> 128): tsai uses a BN only, we (like the
    # `timeseries` package and the Keras original) a 1x1 conv + BN, i.e. 128 * 128 weights more.
    for d in range(6):
        mine = n_params(ours.blocks[d]) - (
            n_params(ours.blocks[d].shortcut) if ours.blocks[d].shortcut is not None else 0
        )
        assert mine == n_params(ref.inceptionblock.inception[d])
    assert n_params(ours.blocks[2].shortcut) == n_params(ref.inceptionblock.shortcut[0])
    assert n_params(ours) == n_params(ref) + 128 * 128

    # Functional equivalence: copy tsai's weights over (identity for the extra 1x1 conv) and
    # compare eval-mode logits.
    randomise_bn(ref)
    for d in range(6):
        result = ours.blocks[d].load_state_dict(
            ref.inceptionblock.inception[d].state_dict(), strict=False
        )
        assert not result.unexpected_keys
        assert all(k.startswith("shortcut.") for k in result.missing_keys)
    ours.blocks[2].shortcut.load_state_dict(ref.inceptionblock.shortcut[0].state_dict())
    ours.blocks[5].shortcut[1].load_state_dict(ref.inceptionblock.shortcut[1].state_dict())
    with torch.no_grad():
        ours.blocks[5].shortcut[0].weight.copy_(torch.eye(128)[:, :, None])
    ours.head.load_state_dict(ref.fc.state_dict())
    ours.eval()
    ref.eval()
    x = torch.randn(4, c_in, 50)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)


def _copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    """Copy Conv1d / BatchNorm1d / Linear state from src to dst, pairing them in module order."""
    kinds = (nn.Conv1d, nn.BatchNorm1d, nn.Linear)
    a = [m for m in src.modules() if isinstance(m, kinds)]
    b = [m for m in dst.modules() if isinstance(m, kinds)]
    assert len(a) == len(b)
    for m_src, m_dst in zip(a, b):
        assert type(m_src) is type(m_dst) or isinstance(m_dst, type(m_src))
        m_dst.load_state_dict(m_src.state_dict())


def test_fcn_architecture_and_tsai_equivalence() -> None:
    model = FCN(3, N_CLASSES)
    convs = [block[0] for block in model.blocks]
    assert [c.kernel_size[0] for c in convs] == [8, 5, 3]
    assert [c.out_channels for c in convs] == [128, 256, 128]
    assert [c.in_channels for c in convs] == [3, 128, 256]
    assert model.head.in_features == 128
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tsai.models.FCN import FCN as TsaiFCN
    torch.manual_seed(3)
    ref = TsaiFCN(3, N_CLASSES, kss=[8, 5, 3])
    assert n_params(model) == n_params(ref)
    randomise_bn(ref)
    _copy_in_order(ref, model)
    model.eval()
    ref.eval()
    x = torch.randn(2, 3, 37)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-4, atol=1e-5)


def test_resnet_architecture_and_tsai_equivalence() -> None:
    model = ResNet1d(2, N_CLASSES)
    for block, nf in zip(model.blocks, [64, 128, 128]):
        assert [c[0].kernel_size[0] for c in block.convs] == [8, 5, 3]
        assert [c[0].out_channels for c in block.convs] == [nf] * 3
    assert isinstance(model.blocks[0].shortcut[0], nn.Conv1d)  # 2 -> 64 channels
    assert isinstance(model.blocks[2].shortcut, nn.BatchNorm1d)  # 128 -> 128 channels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tsai.models.ResNet import ResBlock as TsaiResBlock
    torch.manual_seed(4)
    ref = nn.Sequential(
        TsaiResBlock(2, 64, kss=[8, 5, 3]),
        TsaiResBlock(64, 128, kss=[8, 5, 3]),
        TsaiResBlock(128, 128, kss=[8, 5, 3]),
    )
    ref_head = nn.Linear(128, N_CLASSES)
    assert n_params(model) == n_params(ref) + n_params(ref_head)
    randomise_bn(ref)
    _copy_in_order(nn.ModuleList([ref, ref_head]), model)
    model.eval()
    ref.eval()
    x = torch.randn(2, 2, 33)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref_head(ref(x).mean(-1)), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("k", [8, 5, 2])
def test_same_conv_matches_torch_same_padding(k: int) -> None:
    torch.manual_seed(5)
    conv = SameConv1d(2, 3, k)
    x = torch.randn(2, 2, 11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = F.conv1d(x, conv.weight, padding="same")
    torch.testing.assert_close(conv(x), expected)


def _tiny_inception() -> InceptionTime:
    torch.manual_seed(0)
    return InceptionTime(1, 2, nf=8, depth=3, bottleneck=8, kernel_sizes=(9, 5, 3))


def test_train_learns_and_is_deterministic() -> None:
    X, y = bump_problem(64, seed=0)
    X_test, y_test = bump_problem(64, seed=1)
    runs = []
    for _ in range(2):
        model = _tiny_inception()
        hist = train(
            model, X, y, epochs=5, lr=1e-2, batch_size=16, seed=0, X_valid=X_test, y_valid=y_test
        )
        runs.append((model, hist))
    (model, hist), (_, hist2) = runs
    assert hist["loss"] == hist2["loss"]  # bit-identical
    assert hist["valid_accuracy"] == hist2["valid_accuracy"]
    assert len(hist["loss"]) == len(hist["accuracy"]) == len(hist["valid_accuracy"]) == 5
    assert hist["classes"] == ["bump", "flat"]
    assert hist["seconds"] > 0
    assert hist["loss"][-1] < hist["loss"][0]
    assert not model.training
    assert accuracy(model, X_test, y_test, hist["classes"]) >= 0.9
    assert hist["valid_accuracy"][-1] == accuracy(model, X_test, y_test, hist["classes"])
    other = train(_tiny_inception(), X, y, epochs=1, lr=1e-2, batch_size=16, seed=1)
    assert other["loss"][0] != hist["loss"][0]


def test_train_int_labels_and_progress() -> None:
    X, y = bump_problem(20, seed=2)
    y_int = (y == "flat").astype(np.int64)
    hist = train(_tiny_inception(), X, y_int, epochs=1, batch_size=8, progress=True)
    assert hist["classes"] == [0, 1]
    assert "valid_accuracy" not in hist


class _FirstSamples(nn.Module):
    """A parameter-free 'model' whose logits are the first 3 time steps of channel 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, :3]


def test_predict_and_accuracy_against_hand_computation() -> None:
    X = np.zeros((4, 1, 5), dtype=np.float32)
    X[0, 0, :3] = [0, 0, 1]  # -> class 2
    X[1, 0, :3] = [3, 1, 0]  # -> class 0
    X[2, 0, :3] = [0, 2, 1]  # -> class 1
    X[3, 0, :3] = [1, 0, 0]  # -> class 0
    model = _FirstSamples()
    probs = predict(model, X, batch_size=3)
    assert probs.shape == (4, 3) and probs.dtype == np.float32
    e = np.exp(X[:, 0, :3].astype(np.float64))
    np.testing.assert_allclose(probs, e / e.sum(1, keepdims=True), rtol=1e-6)
    assert accuracy(model, X, np.array([2, 0, 0, 1])) == 0.5
    assert accuracy(model, X, np.array(["c", "a", "b", "b"]), classes=["a", "b", "c"]) == 0.75


def test_save_load_round_trip(tmp_path) -> None:
    torch.manual_seed(6)
    model = ResNet1d(2, 3, filters=(8, 16, 16))
    randomise_bn(model)
    model.eval()
    path = tmp_path / "m.pt"
    save(model, path, classes=["a", "b", "c"])
    loaded, classes = load(path)
    assert classes == ["a", "b", "c"]
    assert isinstance(loaded, ResNet1d) and loaded.config == model.config
    assert not loaded.training
    # the file is loadable with weights_only=True
    assert torch.load(path, weights_only=True)["name"] == "resnet"
    x = torch.randn(3, 2, 20)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))

    it = InceptionTime(1, 2, nf=4, depth=3, bottleneck=4)
    save(it, tmp_path / "it.pt")
    it2, cls = load(tmp_path / "it.pt")
    assert cls is None and it2.config == it.config
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a tscam_widget model file"):
        load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"\.name and \.config"):
        save(nn.Linear(2, 2), tmp_path / "x.pt")


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(
        ValueError, match=r"name must be one of \['fcn', 'inceptiontime', 'resnet'\]"
    ):
        build_model("lstm", 1, 2)
    assert isinstance(build_model("FCN", 1, 2), FCN)
    with pytest.raises(ValueError, match="c_in must be a positive int, got 0"):
        build_model("fcn", 0, 2)
    with pytest.raises(ValueError, match="n_classes must be a positive int"):
        InceptionTime(1, 2.5)
    with pytest.raises(ValueError, match="kernel_sizes must be odd"):
        InceptionTime(1, 2, kernel_sizes=(8, 4))
    model = _tiny_inception()
    with pytest.raises(ValueError, match=r"x must have shape \[N, 1, T\].*got \(2, 3, 10\)"):
        model(torch.randn(2, 3, 10))
    X, y = bump_problem(8, seed=3)
    with pytest.raises(ValueError, match=r"X must have 3 dims \[N, C, T\].*\(8, 32\)"):
        train(model, X[:, 0], y)
    with pytest.raises(ValueError, match="X has 8 samples but y has 7 labels"):
        train(model, X, y[:7])
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        train(model, X, y, epochs=0)
    with pytest.raises(ValueError, match=r"y_valid holds labels \['cat'\]"):
        train(model, X, y, X_valid=X[:1], y_valid=np.array(["cat"]))
    with pytest.raises(ValueError, match="X_valid and y_valid must be given together"):
        train(model, X, y, X_valid=X)
    with pytest.raises(ValueError, match="y has 3 classes but the model outputs 2 logits"):
        train(model, X, np.array(["a", "b", "c", "a", "b", "c", "a", "b"]))
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        train(model, bad, y)
    with pytest.raises(ValueError, match="classes is required when y holds str labels"):
        accuracy(model, X, y)
    with pytest.raises(ValueError, match="y must hold str labels or int class indices"):
        train(model, X, np.ones(8))

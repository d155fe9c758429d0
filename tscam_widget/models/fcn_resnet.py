"""FCN and ResNet baselines of Wang, Yan & Oates (2017), "Time series classification from
scratch with deep neural networks: a strong baseline", in plain PyTorch.

Both use 'same' padding (for the even kernel 8 the extra zero goes on the right, as in Keras),
conv -> BN -> ReLU, global average pooling and a linear head. Convolutions carry no bias because
a BatchNorm follows each of them. Blocks are ``model.blocks[i]``; each block's output is exactly
what the next block (or the GAP) consumes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._common import GAP, TSClassifier, check_positive_int


class SameConv1d(nn.Conv1d):
    """``nn.Conv1d`` with stride 1 and 'same' output length: pads ``(k - 1) // 2`` zeros on the
    left and ``k // 2`` on the right (Keras' and PyTorch's ``padding='same'`` convention) without
    PyTorch's warning for even kernels. Maps ``[N, ni, T] -> [N, nf, T]``."""

    def __init__(self, ni: int, nf: int, kernel_size: int, bias: bool = False) -> None:
        super().__init__(ni, nf, kernel_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size[0]
        return super().forward(F.pad(x, ((k - 1) // 2, k // 2)))


class ConvBNReLU(nn.Sequential):
    """``SameConv1d(ni, nf, k) -> BatchNorm1d -> ReLU`` (``act=False``
    drops the ReLU). Maps ``[N, ni, T] -> [N, nf, T]``."""

    def __init__(self, ni: int, nf: int, kernel_size: int, act: bool = True) -> None:
        layers: list[nn.Module] = [
            SameConv1d(ni, nf, kernel_size),
            nn.BatchNorm1d(nf),
        ]
        if act:
            layers.append(nn.ReLU())
        super().__init__(*layers)


class _ConvStack(TSClassifier):
    """The constructor FCN and ResNet share: checks ``c_in``/``n_classes`` and (through
    :meth:`check_layers`) the layer lists, records ``config``, builds one :meth:`block` per entry
    of ``filters`` (block ``i`` maps ``filters[i-1]`` channels, ``c_in`` for the first, to
    ``filters[i]``), then ``gap`` and ``head``."""

    def __init__(
        self,
        c_in: int,
        n_classes: int,
        filters: tuple[int, ...] | list[int],
        kernel_sizes: tuple[int, ...] | list[int],
    ) -> None:
        super().__init__()
        check_positive_int(c_in, "c_in")
        check_positive_int(n_classes, "n_classes")
        filters, kernel_sizes = list(filters), list(kernel_sizes)
        self.check_layers(filters, kernel_sizes)
        self.config = dict(
            c_in=c_in, n_classes=n_classes, filters=filters, kernel_sizes=kernel_sizes
        )
        ins = [c_in, *filters[:-1]]
        self.blocks = nn.ModuleList(
            [self.block(i, ni, nf) for i, (ni, nf) in enumerate(zip(ins, filters))]
        )
        self.gap = GAP()
        self.head = nn.Linear(filters[-1], n_classes)

    def check_layers(self, filters: list[int], kernel_sizes: list[int]) -> None:
        """Raise ``ValueError`` naming the bad entry unless the layer lists fit the model."""
        raise NotImplementedError

    def block(self, i: int, ni: int, nf: int) -> nn.Module:
        """Block ``i``, mapping ``[N, ni, T] -> [N, nf, T]``."""
        raise NotImplementedError


class FCN(_ConvStack):
    """Fully convolutional network: ``blocks.0..2`` = ConvBNReLU 128/256/128 with kernels
    8/5/3, then ``gap`` and ``head``. ``[N, c_in, T] -> logits [N, n_classes]``."""

    name = "fcn"

    def __init__(
        self,
        c_in: int,
        n_classes: int,
        filters: tuple[int, ...] | list[int] = (128, 256, 128),
        kernel_sizes: tuple[int, ...] | list[int] = (8, 5, 3),
    ) -> None:
        super().__init__(c_in, n_classes, filters, kernel_sizes)

    def check_layers(self, filters: list[int], kernel_sizes: list[int]) -> None:
        """One kernel size per filter count, all positive ints."""
        if not filters or len(filters) != len(kernel_sizes):
            raise ValueError(
                "filters and kernel_sizes must be non-empty lists of equal length, "
                f"got filters={filters!r}, kernel_sizes={kernel_sizes!r}"
            )
        for i, (f, k) in enumerate(zip(filters, kernel_sizes)):
            check_positive_int(f, f"filters[{i}]")
            check_positive_int(k, f"kernel_sizes[{i}]")

    def block(self, i: int, ni: int, nf: int) -> nn.Module:
        return ConvBNReLU(ni, nf, self.config["kernel_sizes"][i])


class ResBlock(nn.Module):
    """Three ConvBNReLU (the last without ReLU) of ``nf`` filters plus a shortcut, then ReLU.

    The shortcut is a 1x1 conv + BN when ``ni != nf`` and a BN otherwise (as in Wang et al.'s
    code). Maps ``[N, ni, T] -> [N, nf, T]``.
    """

    def __init__(self, ni: int, nf: int, kernel_sizes: tuple[int, ...] = (8, 5, 3)) -> None:
        super().__init__()
        n = len(kernel_sizes)
        self.convs = nn.Sequential(
            *[
                ConvBNReLU(ni if i == 0 else nf, nf, k, act=i < n - 1)
                for i, k in enumerate(kernel_sizes)
            ]
        )
        if ni == nf:
            self.shortcut: nn.Module = nn.BatchNorm1d(nf)
        else:
            self.shortcut = nn.Sequential(nn.Conv1d(ni, nf, 1, bias=False), nn.BatchNorm1d(nf))
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(convs(x) + shortcut(x))``, shape ``[N, nf, T]``."""
        return self.act(self.convs(x) + self.shortcut(x))


class ResNet1d(_ConvStack):
    """ResNet: ``blocks.0..2`` = :class:`ResBlock` s of 64/128/128 filters (kernels 8/5/3),
    then ``gap`` and ``head``. ``[N, c_in, T] -> logits [N, n_classes]``."""

    name = "resnet"

    def __init__(
        self,
        c_in: int,
        n_classes: int,
        filters: tuple[int, ...] | list[int] = (64, 128, 128),
        kernel_sizes: tuple[int, ...] | list[int] = (8, 5, 3),
    ) -> None:
        super().__init__(c_in, n_classes, filters, kernel_sizes)

    def check_layers(self, filters: list[int], kernel_sizes: list[int]) -> None:
        """Non-empty lists of positive ints (every block uses all of ``kernel_sizes``)."""
        if not filters:
            raise ValueError(f"filters must be a non-empty list, got {filters!r}")
        for i, f in enumerate(filters):
            check_positive_int(f, f"filters[{i}]")
        if not kernel_sizes:
            raise ValueError(f"kernel_sizes must be a non-empty list, got {kernel_sizes!r}")
        for i, k in enumerate(kernel_sizes):
            check_positive_int(k, f"kernel_sizes[{i}]")

    def block(self, i: int, ni: int, nf: int) -> nn.Module:
        return ResBlock(ni, nf, tuple(self.config["kernel_sizes"]))

"""InceptionTime (Fawaz et al. 2019) in plain PyTorch, laid out for layer-wise explanations.

Same architecture as the fastai2 ``timeseries`` package and tsai: ``depth`` inception modules,
each with a bottleneck (1x1 conv, skipped when the module's input has one channel), three
convolutions of kernel sizes 39/19/9 and a max-pool branch (max-pool 3, stride 1, then a 1x1
conv), ``nf`` filters per branch concatenated to ``4 * nf`` channels, then BN + ReLU. Every third
module closes a residual stage: it adds a shortcut (1x1 conv + BN) of the stage input and applies a
ReLU. Global average pooling and a linear head follow.

The modules are ``model.blocks[0] .. model.blocks[depth - 1]``; the shortcut lives *inside*
the module that closes a stage, so each block's output is exactly what the next block (or the
GAP) consumes.

Difference to tsai: tsai's second stage shortcut (128 -> 128 channels) is a BN only; here, as in
the ``timeseries`` package and the original Keras code, every shortcut is a 1x1 conv + BN.
"""

from __future__ import annotations

import torch
from torch import nn

from ._common import GAP, TSClassifier, check_positive_int


class InceptionModule(nn.Module):
    """One inception module; with ``shortcut_in`` set it also closes a residual stage.

    ``forward(x)`` returns ``relu(bn(cat(branches)))`` of shape ``[N, 4 * nf, T]``;
    a stage-closing module's ``forward(x, res)`` returns
    ``relu(relu(bn(cat(branches(x)))) + shortcut(res))``.
    """

    def __init__(
        self,
        ni: int,
        nf: int = 32,
        kernel_sizes: tuple[int, ...] = (39, 19, 9),
        bottleneck: int = 32,
        shortcut_in: int | None = None,
    ) -> None:
        super().__init__()
        use_bottleneck = bottleneck > 0 and ni > 1
        self.bottleneck = nn.Conv1d(ni, bottleneck, 1, bias=False) if use_bottleneck else None
        conv_in = bottleneck if use_bottleneck else ni
        self.convs = nn.ModuleList(
            [nn.Conv1d(conv_in, nf, k, padding=k // 2, bias=False) for k in kernel_sizes]
        )
        self.maxconvpool = nn.Sequential(
            nn.MaxPool1d(3, stride=1, padding=1), nn.Conv1d(ni, nf, 1, bias=False)
        )
        n_out = nf * (len(kernel_sizes) + 1)
        self.bn = nn.BatchNorm1d(n_out)
        self.act = nn.ReLU()
        if shortcut_in is None:
            self.shortcut = None
        else:
            self.shortcut = nn.Sequential(
                nn.Conv1d(shortcut_in, n_out, 1, bias=False), nn.BatchNorm1d(n_out)
            )
            self.res_act = nn.ReLU()

    def forward(self, x: torch.Tensor, res: torch.Tensor | None = None) -> torch.Tensor:
        """Output ``[N, 4 * nf, T]``; ``res`` (the stage input) is required iff the module
        closes a stage."""
        z = self.bottleneck(x) if self.bottleneck is not None else x
        z = torch.cat([conv(z) for conv in self.convs] + [self.maxconvpool(x)], dim=1)
        z = self.act(self.bn(z))
        if self.shortcut is None:
            if res is not None:
                raise ValueError("res must be None for a module without a shortcut")
            return z
        if res is None:
            raise ValueError("res (the stage input) is required by a stage-closing module")
        return self.res_act(z + self.shortcut(res))


class InceptionTime(TSClassifier):
    """InceptionTime classifier: ``[N, c_in, T] -> logits [N, n_classes]``.

    ``blocks.0 .. blocks.{depth-1}`` are :class:`InceptionModule` s; with ``residual`` every
    third one (``blocks.2``, ``blocks.5``) holds a ``shortcut`` and is called as
    ``block(x, stage_input)``. ``gap`` averages over time, ``head`` is the linear layer.
    """

    name = "inceptiontime"

    def __init__(
        self,
        c_in: int,
        n_classes: int,
        nf: int = 32,
        depth: int = 6,
        bottleneck: int = 32,
        kernel_sizes: tuple[int, ...] | list[int] = (39, 19, 9),
        residual: bool = True,
    ) -> None:
        super().__init__()
        check_positive_int(c_in, "c_in")
        check_positive_int(n_classes, "n_classes")
        check_positive_int(nf, "nf")
        check_positive_int(depth, "depth")
        if isinstance(bottleneck, bool) or not isinstance(bottleneck, int) or bottleneck < 0:
            raise ValueError(f"bottleneck must be an int >= 0 (0 = none), got {bottleneck!r}")
        kernel_sizes = list(kernel_sizes)
        if not kernel_sizes or any(
            isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0
            for k in kernel_sizes
        ):
            raise ValueError(f"kernel_sizes must be odd positive ints, got {kernel_sizes!r}")
        self.config = dict(
            c_in=c_in,
            n_classes=n_classes,
            nf=nf,
            depth=depth,
            bottleneck=bottleneck,
            kernel_sizes=kernel_sizes,
            residual=bool(residual),
        )
        n_hidden = nf * (len(kernel_sizes) + 1)
        blocks = []
        stage_in = c_in
        for d in range(depth):
            closes_stage = residual and d % 3 == 2
            blocks.append(
                InceptionModule(
                    c_in if d == 0 else n_hidden,
                    nf,
                    tuple(kernel_sizes),
                    bottleneck,
                    shortcut_in=stage_in if closes_stage else None,
                )
            )
            if closes_stage:
                stage_in = n_hidden
        self.blocks = nn.ModuleList(blocks)
        self.gap = GAP()
        self.head = nn.Linear(n_hidden, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Run the blocks only; returns the GAP input ``[N, 4 * nf, T]``."""
        res = x
        for block in self.blocks:
            if block.shortcut is not None:
                x = res = block(x, res)
            else:
                x = block(x)
        return x

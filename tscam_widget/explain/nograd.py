"""Models whose prediction has no gradient with respect to the input (tsai's ROCKET family: shares
of positive convolution outputs): which methods explain them (the input attributions that run
plain forwards only: occlusion, shapley_segments) and the error for a method that needs one."""

from __future__ import annotations

from collections.abc import Sequence

from .attributions import InputAttribution
from .layers import LayerSpec
from .methods import METHODS, Method, default_methods

NO_GRADIENT = (
    "the model's prediction has no gradient with respect to its input (its features are not "
    "differentiable, as ROCKET's shares of positive values)"
)


def perturbation_methods() -> list[str]:
    """Names of the registered input attributions that need no gradient, in registry order
    (``["occlusion", "shapley_segments"]``)."""
    return [
        n for n, m in METHODS.items() if isinstance(m, InputAttribution) and not m.needs_gradient
    ]


def no_gradient_note() -> str:
    """The widget's status note for a model without gradients."""
    return f"no gradients: {NO_GRADIENT}, so only perturbation methods are shown"


def gradient_free_defaults(specs: Sequence[LayerSpec]) -> list[str]:
    """The ``methods=None`` selection for a model without gradients on the layers ``specs``: on
    the input, the input attributions that need no gradient; on other layers (named by the
    user), the default methods that need none."""
    names = []
    if any(not s.is_input for s in specs):
        names += [n for n in default_methods() if not METHODS[n].needs_gradient]
    if any(s.is_input for s in specs):
        names += perturbation_methods()
    return names


def check_gradient_free(methods: Sequence[Method], arg: str = "methods") -> None:
    """A ``ValueError`` naming the first of ``methods`` that needs a gradient, the reason and
    the methods that need none (the model has no gradient with respect to its input)."""
    bad = next((m for m in methods if m.needs_gradient), None)
    if bad is not None:
        free = " and ".join(perturbation_methods())
        raise ValueError(
            f"{arg}: {bad.name!r} needs gradients, and {NO_GRADIENT}; {free} need no gradient"
        )

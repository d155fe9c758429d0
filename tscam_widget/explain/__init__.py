"""The explainer core (pure PyTorch): class-activation maps of every chosen layer of a time-series
classifier from one forward and one ``torch.autograd.grad`` per batch."""

from .adapters import as_inputs, from_learner
from .attributions import INPUT_METHODS
from .explainer import Explainer
from .explanation import Explanation
from .layers import candidate_layers, default_layers
from .methods import (
    METHODS,
    REDUCTIONS,
    Method,
    MethodContext,
    WeightedMethod,
    methods_table,
    register_method,
    unregister_method,
)
from .state import preserved_state

for _m in INPUT_METHODS:  # the input attributions join the registry (after the CAMs)
    METHODS.setdefault(_m.name, _m)

__all__ = [
    "Explainer",
    "Explanation",
    "candidate_layers",
    "default_layers",
    "register_method",
    "unregister_method",
    "from_learner",
    "as_inputs",
    "METHODS",
    "REDUCTIONS",
    "Method",
    "MethodContext",
    "WeightedMethod",
    "methods_table",
    "preserved_state",
]

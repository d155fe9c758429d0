"""Can I trust this map? Faithfulness (deletion curves against random chunks), localisation
against a ground-truth mask, and sanity checks (cascading parameter randomisation, random
logit) for every explained layer and method, in pure PyTorch, batched, the model left as found.

One entry point: :func:`evaluate` returns a :class:`TrustReport` of numpy arrays with named
axes. The building blocks (:func:`deletion_curves`, the perturbations, the localisation scores,
:func:`spearman`, the randomisation stages) are public for custom use.
"""

from .deletion import (
    ORDERS,
    DeletionResult,
    auc,
    block_edges,
    block_scores,
    deletion_curves,
    ranking,
    removal_sets,
    step_counts,
)
from .evaluate import evaluate
from .localisation import (
    METRICS,
    localisation,
    pointing_game,
    relevance_mass,
    relevance_rank,
    roc_auc,
)
from .perturb import PERTURBATIONS, Perturbation, make_perturbation
from .report import AXES, TrustReport
from .sanity import cascade_stages, other_classes, randomise_, randomised_models, spearman

__all__ = [
    "AXES",
    "METRICS",
    "ORDERS",
    "PERTURBATIONS",
    "DeletionResult",
    "Perturbation",
    "TrustReport",
    "auc",
    "block_edges",
    "block_scores",
    "cascade_stages",
    "deletion_curves",
    "evaluate",
    "localisation",
    "make_perturbation",
    "other_classes",
    "pointing_game",
    "randomise_",
    "randomised_models",
    "ranking",
    "relevance_mass",
    "relevance_rank",
    "removal_sets",
    "roc_auc",
    "spearman",
    "step_counts",
]

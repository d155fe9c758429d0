"""The Python <-> frontend contract of :class:`~.camwidget.CamWidget`, written once.

Every synced trait is described here by one :class:`Trait`: the widget's traits are declared from
these descriptions (:func:`traits_base`), the validators take their allowed values from them, and
``js/src/protocol.gen.ts`` and the tables of ``docs/protocol.md`` are generated from them
(``python -m tscam_widget.widget.protocol_gen``). A part of the widget (trust
view, timeline ...) adds its own list of traits here and to :data:`PARTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import traitlets as t

from tscam_widget.explain.explanation import NORMS

from . import buffers


@dataclass(frozen=True)
class Menu:
    """A display-only menu that ``js/src/controls.ts`` builds from ``MENU_CONTROLS`` (generated):
    a ``<select>`` labelled ``label`` (hover text ``title``) after the hand-built menus, in
    protocol order, with the trait's ``values`` labelled by :data:`MENU_LABELS`."""

    label: str
    title: str = ""


@dataclass(frozen=True)
class Table:
    """A layers x methods table of the trust view, drawn by ``js/src/trust.ts`` from
    ``TRUST_TABLES`` (generated; in protocol order) when its ``[L, M]`` array trait is not empty.

    name: the table's key (the painted cells carry it). title: its heading; ``{key}`` is filled
    with ``trust_meta[key]``, underscores read as spaces.
    scale: ``"diverging"`` (white at 0, ``colour`` above, ``negative`` below) or
    ``"sequential"`` (white at 0 up to ``colour``; ``magnitude``: of ``|value|``).
    span: the value at full colour; grow: the span grows to the table's largest ``|value|``.
    A cell's text turns white past 0.6 of the span.
    """

    name: str
    title: str
    scale: str
    colour: str
    negative: str = ""
    span: float = 1.0
    grow: bool = False
    magnitude: bool = False


@dataclass(frozen=True)
class Trait:
    """One synced trait.

    kind: ``"int" | "float" | "bool" | "str" | "union" | "list" | "dict" | "array" | "arrays"``
    (``"arrays"``: a list of binary arrays, e.g. one per snapshot);
    an ``"array"`` travels as a binary buffer (``buffers.pack``) with ``dtype`` (None: the
    widget's ``precision``) and ``shape`` (symbolic, e.g. ``"[N, L, M, T]"``); its default is the
    empty array of ``dtype`` (float32 when None). A ``"list"`` holds ``dtype`` items (``"str"`` or
    ``"float"``).
    values: the allowed values of a menu (None: free or checked elsewhere).
    control: both sides write it (a control); else Python writes it (information).
    kernel: a change of this control needs the kernel (when maps are not precomputed).
    hidden_in: the views in which this control does nothing (the frontend hides it there).
    ts: the TypeScript type where the kind alone does not say it (dicts).
    menu: a display-only menu the frontend builds generically (:class:`Menu`; a ``"str"``
    control with ``values``).
    table: a trust view table drawn from this ``"array"`` trait (:class:`Table`).
    """

    name: str
    kind: str
    default: Any
    doc: str
    dtype: str | None = None
    shape: str | None = None
    values: tuple[Any, ...] | None = None
    control: bool = False
    kernel: bool = False
    hidden_in: tuple[str, ...] = ()
    ts: str | None = None
    menu: Menu | None = None
    table: Table | None = None

    def __post_init__(self) -> None:
        if self.menu and not (self.kind == "str" and self.control and self.values):
            raise ValueError(
                f"trait {self.name}: a menu needs a str control with values, got kind="
                f"{self.kind!r}, control={self.control}, values={self.values}"
            )
        if self.table and self.kind != "array":
            raise ValueError(f"trait {self.name}: a table needs an array trait, got {self.kind!r}")
        if self.table and self.table.scale not in ("diverging", "sequential"):
            raise ValueError(
                f"trait {self.name}: table scale must be 'diverging' or 'sequential', "
                f"got {self.table.scale!r}"
            )


def _q(values: tuple[Any, ...]) -> str:
    return ", ".join(f'`"{v}"`' for v in values)


#: the named targets (the class indices 0..K-1 follow them in the target menu)
NAMED_TARGETS = ("pred", "true")
VIEWS = ("single", "grid", "overlay", "trust")
MARKS = ("line", "scatter")
LINESTYLES = ("solid", "dashed", "dashdot", "dotted")
SERIES_VIEWS = ("original", "input")
SAMPLE_FILTERS = ("all", "mistakes", "correct")
SAMPLE_SORTS = ("index", "confidence", "-confidence")
#: ``y_pred`` of a sample whose series holds NaN or inf (it never gets a prediction)
NON_FINITE = -2
#: ``y_pred`` of a sample not predicted yet
NOT_PREDICTED = -1
#: the views that draw no maps (display controls do nothing there)
_NO_MAPS = ("trust",)

CONTROLS: tuple[Trait, ...] = (
    Trait("layer", "int", 0, "index into `layers`", control=True),
    Trait("method", "str", "gradcam", "one of `methods`", control=True, kernel=True),
    Trait(
        "reduction",
        "str",
        "mean",
        "one of `reductions`; the control shows only when `method in reduction_methods`",
        control=True,
        kernel=True,
    ),
    Trait(
        "sample",
        "int",
        0,
        "0 .. n_samples-1 (position in the widget's sample set)",
        control=True,
        kernel=True,
    ),
    Trait(
        "target",
        "union",
        "pred",
        f"{_q(NAMED_TARGETS)} or a class index",
        values=NAMED_TARGETS,
        control=True,
        kernel=True,
    ),
    Trait(
        "cmap",
        "str",
        "Spectral_r",
        "a matplotlib colour map name; Python answers with `cmap_table`",
        control=True,
        hidden_in=_NO_MAPS,
    ),
    Trait(
        "norm",
        "str",
        "sample",
        f"{_q(NORMS)}",
        values=NORMS,
        control=True,
        kernel=True,
        hidden_in=_NO_MAPS,
    ),
    Trait(
        "view",
        "str",
        "single",
        f"{_q(VIEWS)} (see Trust below)",
        values=VIEWS,
        control=True,
        kernel=True,
    ),
    Trait(
        "view_count",
        "int",
        4,
        "how many samples grid / overlay show: from `sample` on, the next ones, or the next listed "
        "ones when the sample menu filters or sorts (`w.sample_list`)",
        control=True,
        kernel=True,
        hidden_in=("single", *_NO_MAPS),
    ),
    Trait(
        "mark",
        "str",
        "line",
        f"{_q(MARKS)} (not `style`: ipywidgets views read a `style` trait as a Style widget "
        "reference and throw in create_child_view; the Python class keeps `w.style` as an alias "
        "property; the menu is labelled `mark` too)",
        values=MARKS,
        control=True,
        hidden_in=_NO_MAPS,
        menu=Menu("mark"),
    ),
    Trait("linewidth", "float", 2.0, "px", control=True, hidden_in=_NO_MAPS),
    Trait(
        "linestyle",
        "str",
        "solid",
        _q(LINESTYLES),
        values=LINESTYLES,
        control=True,
        hidden_in=_NO_MAPS,  # set from Python (no menu: the controls keep to two lines)
    ),
    Trait("alpha", "float", 1.0, "0..1", control=True, hidden_in=_NO_MAPS),
    Trait(
        "playing",
        "bool",
        False,
        "the play button: steps `layer` every `play_interval_ms`",
        control=True,
    ),
    Trait("play_interval_ms", "int", 600, "ms between play steps (>= 1)", control=True),
    Trait(
        "request_id",
        "int",
        0,
        "the frontend increments it with every control change that needs maps",
        control=True,
    ),
    Trait(
        "series_view",
        "str",
        "original",
        '`"original"` (default) draws `series`, `"input"` draws `input_series` (the control '
        "shows only when `input_series` is not empty)",
        values=SERIES_VIEWS,
        control=True,
        hidden_in=_NO_MAPS,
        menu=Menu(
            "series",
            "draw the data in its own units, or the model's input (after the Learner's batch "
            "transforms)",
        ),
    ),
    Trait(
        "sample_filter",
        "str",
        "all",
        f"the sample menu (`js/src/samples.ts`, `widget/samples.py`): {_q(SAMPLE_FILTERS)} "
        '(`"mistakes"`: predicted class differs from the true one); samples without a '
        "prediction yet are not listed; grid and overlay show the listed samples",
        values=SAMPLE_FILTERS,
        control=True,
        kernel=True,
    ),
    Trait(
        "filter_true",
        "int",
        -1,
        "list only samples of this true class (-1: any)",
        control=True,
        kernel=True,
    ),
    Trait(
        "filter_pred",
        "int",
        -1,
        "list only samples predicted as this class (-1: any)",
        control=True,
        kernel=True,
    ),
    Trait(
        "sample_sort",
        "str",
        "index",
        f"{_q(SAMPLE_SORTS)} (confidence: the predicted class's probability, least confident "
        "first); unpredicted samples last. The frontend computes the list from `y_true_buffer`, "
        "`y_pred_buffer`, `probs_buffer` as they arrive (so it works offline), the arrows and "
        "◀ ▶ step through it, and a filter change moves `sample` to the first listed one when "
        "the current one is not listed",
        values=SAMPLE_SORTS,
        control=True,
        kernel=True,
    ),
)

#: the menus' labels where they differ from the values (``options`` trait)
MENU_LABELS: dict[str, dict[str, str]] = {
    "linestyle": {"dashdot": "dash-dot"},
    "norm": {"sample": "per sample", "layer": "per layer"},
    "series_view": {"input": "model input"},
    "target": {"pred": "predicted"},
}
#: the controls whose menu the ``options`` trait carries: the hand-built ones and every
#: generic :class:`Menu`
# linestyle: labelled values in `options` for a host's own menu, no element in the controls row
MENUS = ("view", *(tr.name for tr in CONTROLS if tr.menu), "linestyle", "norm", "target")


def _array(name: str, dtype: str | None, shape: str, doc: str, table: Table | None = None) -> Trait:
    return Trait(name, "array", None, doc, dtype=dtype, shape=shape, table=table)


INFORMATION: tuple[Trait, ...] = (
    Trait(
        "options",
        "dict",
        None,  # menus(): built from the controls' values and MENU_LABELS
        "the menus of " + ", ".join(f"`{c}`" for c in MENUS[:-1]) + " and the named `target`s "
        f"({_q(NAMED_TARGETS)}; the class indices follow), value and label, from "
        "`tscam_widget/widget/protocol.py`: Python validates with them, the frontend's menus "
        "show them",
        ts="Record<string, [string, string][]>",
    ),
    Trait("layers", "list", [], "layer names (`blocks.0` ...)", dtype="str"),
    Trait(
        "layer_layouts",
        "list",
        [],
        "per layer, the layout its output is read with (`NCT`, `NTC`, `[0] NTC`, `NTC, token 0 "
        "dropped (class token)` ...)",
        dtype="str",
    ),
    Trait("methods", "list", [], "method keys (`gradcam`, ...)", dtype="str"),
    Trait(
        "method_labels",
        "dict",
        None,
        "`gradcam` -> `Grad-CAM` for titles and menus",
        ts="Record<string, string>",
    ),
    Trait(
        "method_costs",
        "dict",
        None,
        "the methods that run passes of their own, with their cost on this data for the method "
        "menu: `integrated_gradients` -> `32 fwd+bwd`",
        ts="Record<string, string>",
    ),
    Trait("reductions", "list", [], "`mean`, `median`, `max`, `mean_max`", dtype="str"),
    Trait(
        "reduction_methods",
        "list",
        [],
        "methods that use a reduction (`activation`, `gradcam_classic`)",
        dtype="str",
    ),
    Trait("classes", "list", [], "decoded class labels", dtype="str"),
    Trait("cmaps", "list", [], "colour map names for the menu", dtype="str"),
    _array("cmap_table", "uint8", "[256, 4]", "RGBA table of `cmap` (matplotlib)"),
    Trait("n_samples", "int", 0, "samples in the widget"),
    _array("sample_ids", "int32", "[N]", "each sample's index in the user's data"),
    _array(
        "series",
        "float32",
        "[N, C, T]",
        "the series in the user's units (a Learner's dataset items, before batch transforms)",
    ),
    _array(
        "input_series",
        "float32",
        "[N, C, T] or empty",
        "what the model receives, when it differs from `series` (a Learner's batch transforms "
        "applied); empty otherwise",
    ),
    _array(
        "series_samples",
        "int32",
        "[S] or empty",
        "empty: `series`/`input_series` hold every sample in order; else (more than 32 MB of "
        "series) they hold only these samples (the visible ones, sent with each change), and the "
        "frontend waits for a sample's row before drawing it",
    ),
    _array(
        "y_true_buffer",
        "int32",
        "[N]",
        "the labels (Python: `w.y_true`, a numpy array); -1 where unknown (data read lazily: "
        "filled in as items are read, when the labels come with them)",
    ),
    _array(
        "y_pred_buffer",
        "int32",
        "[N]",
        "model prediction (Python: `w.y_pred`, a numpy array); -1 while not predicted yet "
        "(background mode: sent again as batches "
        'arrive; the sample menu says "predictions filling in" until none is -1), -2 for a '
        "sample whose series holds NaN or inf (it never gets one; never a mistake, last by "
        "confidence)",
    ),
    _array(
        "probs_buffer",
        "float32",
        "[N, K]",
        "softmax; NaN rows while not predicted (Python: `w.probs`, a numpy array)",
    ),
    _array("targets", "int32", "[N]", "the class each map explains under the current `target`"),
    Trait(
        "precomputed",
        "bool",
        False,
        "True: the cube holds every map and the frontend needs no kernel for "
        "layer/method/reduction/sample/norm, nor for a target whose rows are there",
    ),
    Trait(
        "target_methods",
        "list",
        [],
        "methods whose maps depend on the target (the title names a target only for these)",
        dtype="str",
    ),
    Trait(
        "precision",
        "str",
        "uint8",
        '`"uint8"`, `"float16"` or `"float32"`: how maps travel; fixed at construction',
        values=("uint8", "float16", "float32"),
    ),
    _array(
        "cube",
        None,
        "[R, L, M, T]",
        'unit values of the raw maps (`norm="none"` before scaling), one row per (sample, class '
        "explained); M indexes `cube_keys`",
    ),
    _array("cube_scale", "float32", "[R, L, M, 2]", "each map's `(lo, hi)`"),
    _array(
        "cube_rows",
        "int32",
        "[N, K]",
        "the row of sample n explained for class k, -1 where absent; by default the predicted "
        "and the true class (one row where they are equal) and the current target's; a sample "
        "with no row at all has no map (non-finite values)",
    ),
    Trait(
        "cube_keys",
        "list",
        [],
        '`"gradcam"` or `"activation/mean"` (method, or method/reduction)',
        dtype="str",
    ),
    Trait(
        "cube_meta",
        "dict",
        None,
        '`{"scale_range": [a, b]}`',
        ts="{ scale_range?: number[] } | null",
    ),
    _array(
        "maps",
        None,
        "[S, L, T]",
        "kernel mode: unit values of the maps of samples `maps_meta.samples`, all layers, "
        "normalised by Python for `maps_meta.norm`",
    ),
    _array("maps_scale", "float32", "[S, L, 2]", "kernel mode: each map's `(lo, hi)`"),
    Trait(
        "maps_meta",
        "dict",
        None,
        '`{"request_id", "samples", "method", "reduction", "target", "norm", "channels"}` '
        "(`channels`: `channel_maps` holds these samples' maps per channel)",
        ts="MapsMeta | null",
    ),
    _array(
        "channel_cube",
        None,
        "[R, Kc, C, T]",
        "unit values of the `input` layer's raw maps per channel (after the method's ReLU), "
        "rows as `cube`'s; Kc indexes `channel_keys`; empty for one channel",
    ),
    _array(
        "channel_scale",
        "float32",
        "[R, Kc, 2]",
        "each row's and kind's `(lo, hi)` over its whole `[C, T]` (channels stay comparable)",
    ),
    Trait(
        "channel_keys",
        "list",
        [],
        "the map kinds (as `cube_keys`) with maps per channel on the `input` layer; later "
        "layers mix the channels, so their maps are one `[T]` map for all channels",
        dtype="str",
    ),
    _array(
        "channel_maps",
        None,
        "[S, C, T]",
        "kernel mode: unit values of the `input` maps per channel of `maps_meta.samples` (raw, "
        "after the method's ReLU); empty when the method has none",
    ),
    _array(
        "channel_maps_scale",
        "float32",
        "[S, 2]",
        "kernel mode: each sample's `(lo, hi)` (its C x T)",
    ),
    Trait(
        "value_range",
        "list",
        [0.0, 1.0],
        '[lo, hi] of the colour bar for the current norm; `norm="none"`: the extent of the '
        "current layer's maps of the current method (precompute mode: every sample's, for the "
        "current target; kernel mode: the samples sent), so one layer or method with huge "
        "values does not flatten the others (precompute mode: the frontend derives the same "
        "from `cube_scale`, kernel mode from `maps_scale`, each layer's strip row its own)",
        dtype="float",
    ),
    Trait(
        "status",
        "str",
        "",
        'progress / info line (predictions, precomputation, "per-layer colour range filling in" '
        'while a `norm="layer"` range is computed behind, "maps computed on demand ... over the '
        'memory budget"; in a kernel the first computation runs on the event loop right after '
        "the cell, so the widget shows it)",
    ),
    Trait("error", "str", "", 'last compute error ("" when none); the widget keeps working'),
)

#: the trust view's traits (``widget/trust.py``)
TRUST: tuple[Trait, ...] = (
    Trait(
        "randomised",
        "bool",
        False,
        "draw the map views (single, grid, overlay, the layer strip) with the randomised "
        "model's maps (`trust_rand_*`; predicted-class target only)",
        control=True,
    ),
    _array(
        "mask",
        "uint8",
        "[N, T] or empty",
        "the ground truth (`CamWidget(..., mask=)`), a band under the series in every view",
    ),
    Trait(
        "trust_meta",
        "dict",
        None,
        '`{"state": "off" \\| "pending" \\| "computing" \\| "done" \\| "failed", "layers", '
        '"keys" (column keys, `"gradcam"`, `"activation/mean"`), "perturbation", "steps", '
        '"random_draws", "samples", "loc_metric", "forwards", "forwards_unshared", "seconds", '
        '"target", "error"}`',
        ts="TrustMeta | null",
    ),
    _array("trust_fractions", "float32", "[K+1]", "removed fraction after each deletion step"),
    _array(
        "trust_gain",
        "float32",
        "[L, M]",
        "gain over random: mean over samples of (random-chunk AUC - MoRF AUC); NaN where the "
        "method is undefined",
        Table(
            "gain",
            "gain over random: random-chunk AUC - MoRF AUC (red: better than random)",
            "diverging",
            "#ca0020",
            negative="#0571b0",
            span=0.05,
            grow=True,
        ),
    ),
    _array(
        "trust_loc",
        "float32",
        "[L, M] or empty",
        "localisation against `mask` (`loc_metric`: relevance mass accuracy)",
        Table("loc", "localisation ({loc_metric})", "sequential", "#006d2c"),
    ),
    _array(
        "trust_rand_corr",
        "float32",
        "[L, M]",
        "Spearman correlation of each map with the randomised model's, mean over samples (high: "
        "the map does not depend on the weights)",
        Table(
            "corr",
            "rank correlation with the randomised model's maps (high: fails the sanity check)",
            "sequential",
            "#54278f",
            magnitude=True,
        ),
    ),
    _array(
        "trust_curves",
        "uint8",
        "[N, L, M, 2, K+1], deflated",
        "target probability p along MoRF (0) and LeRF (1) deletion as round(254 p) (within "
        "1/508), 255 for NaN (samples not evaluated)",
    ),
    _array(
        "trust_random",
        "uint8",
        "[N, K+1], deflated",
        "the random-chunk curve (mean over draws), coded as `trust_curves`",
    ),
    _array(
        "trust_rand_cube",
        None,
        "[R, L, M, T]",
        "the randomised model's maps as `cube` (M indexes `trust_meta.keys`); uint8 ones rounded "
        "to 64 levels",
    ),
    _array("trust_rand_scale", "float32", "[R, L, M, 2]", "their `(lo, hi)`"),
    _array(
        "trust_rand_rows",
        "int32",
        "[N, K]",
        "as `cube_rows` (one row per sample, for its predicted class)",
    ),
)

#: every list of traits, by the part it belongs to (the docs' tables, in this order)
TIMELINE: tuple[Trait, ...] = (
    Trait(
        "epoch",
        "int",
        -1,
        "the snapshot drawn (the epoch slider): -1 the current weights (the live maps), else an "
        "index of `timeline_meta.labels`",
        control=True,
    ),
    Trait(
        "timeline_meta",
        "dict",
        None,
        "`{labels: [E], metrics: [E dicts], keys: [M'] (as `cube_keys`), levels, pending}`: one "
        "entry per snapshot (widget/timeline.py); `pending`: snapshots whose maps are not "
        "computed yet",
        ts="{ labels?: string[]; metrics?: Record<string, number>[]; keys?: string[]; "
        "levels?: number; pending?: number } | null",
    ),
    Trait(
        "timeline_samples",
        "arrays",
        None,
        "per snapshot, the widget samples it holds",
        dtype="int32",
        shape="[E] x [S]",
    ),
    Trait(
        "timeline_maps",
        "arrays",
        None,
        "per snapshot, the maps' unit values (levels on the 0..255 grid, deflated, delta along "
        "T) for the class predicted then",
        dtype="uint8",
        shape="[E] x [S, L, M', T]",
    ),
    Trait(
        "timeline_scale",
        "arrays",
        None,
        "per snapshot, each map's (lo, hi); NaN: no map",
        dtype="float32",
        shape="[E] x [S, L, M', 2]",
    ),
    Trait(
        "timeline_probs",
        "arrays",
        None,
        "per snapshot, the softmax of every widget sample at that moment (NaN: not finite)",
        dtype="float32",
        shape="[E] x [N, K]",
    ),
)

PARTS: dict[str, tuple[Trait, ...]] = {
    "controls": CONTROLS,
    "information": INFORMATION,
    "trust": TRUST,
    "timeline": TIMELINE,
}
#: the constructor's own arguments among the controls (not given as ``**controls``)
CONSTRUCTOR_CONTROLS = ("target", "cmap", "norm", "view")


def all_traits() -> tuple[Trait, ...]:
    """Every synced trait, in the order of :data:`PARTS`."""
    return tuple(tr for part in PARTS.values() for tr in part)


def trait(name: str) -> Trait:
    """The description of the trait ``name`` (KeyError if none)."""
    for tr in all_traits():
        if tr.name == name:
            return tr
    raise KeyError(name)


def menu_options(tr: Trait) -> list[tuple[str, str]]:
    """A menu's ``(value, label)`` pairs in menu order (labels from :data:`MENU_LABELS`)."""
    return [(v, MENU_LABELS.get(tr.name, {}).get(v, v)) for v in tr.values or ()]


def menus() -> dict[str, list[tuple[str, str]]]:
    """The ``options`` trait: per menu control its ``(value, label)`` in menu order."""
    return {name: menu_options(trait(name)) for name in MENUS}


def fixed_options() -> dict[str, tuple[Any, ...]]:
    """The controls that take one of a fixed set of values (``target`` also takes class
    indices, so it is checked elsewhere), each with its values."""
    return {
        tr.name: tr.values
        for tr in all_traits()
        if tr.control and tr.values is not None and tr.kind == "str"
    }


def kernel_controls() -> tuple[str, ...]:
    """The controls whose change needs the kernel when the maps are not precomputed."""
    return tuple(tr.name for tr in all_traits() if tr.kernel)


def init_controls() -> tuple[str, ...]:
    """The controls ``CamWidget(..., **controls)`` takes as keywords (``style`` is ``mark``'s
    alias)."""
    skip = {*CONSTRUCTOR_CONTROLS, "request_id"}
    names = [tr.name for tr in CONTROLS if tr.name not in skip]
    names.insert(names.index("mark") + 1, "style")
    return tuple(names)


def arrays(part: tuple[Trait, ...]) -> tuple[str, ...]:
    """The names of the binary-buffer traits of ``part``."""
    return tuple(tr.name for tr in part if tr.kind == "array")


def empty_of(tr: Trait) -> dict[str, Any]:
    """The empty value of an array trait (its ``dtype``, float32 when the precision decides)."""
    return buffers.empty(tr.dtype or "float32")


class NumpyInt(t.Int):
    """An Int trait that also takes numpy integers (not bools)."""

    def validate(self, obj: Any, value: Any) -> Any:
        if isinstance(value, np.integer):
            value = int(value)
        if isinstance(value, bool):
            self.error(obj, value)
        return super().validate(obj, value)


_ITEMS = {"str": t.Unicode, "float": t.Float}


def declare(tr: Trait) -> t.TraitType:
    """The traitlets trait (tagged ``sync=True``) of one description."""
    if tr.kind == "int":
        trait_: t.TraitType = NumpyInt(tr.default)
    elif tr.kind == "float":
        trait_ = t.Float(tr.default)
    elif tr.kind == "bool":
        trait_ = t.Bool(tr.default)
    elif tr.kind == "str":
        trait_ = t.Unicode(tr.default)
    elif tr.kind == "union":
        trait_ = t.Union([t.Unicode(), NumpyInt()], default_value=tr.default)
    elif tr.kind == "list":
        trait_ = t.List(_ITEMS[tr.dtype or "str"](), default_value=list(tr.default))
    elif tr.kind == "dict":
        trait_ = t.Dict(menus() if tr.name == "options" else {})
    elif tr.kind == "array":
        trait_ = t.Dict(empty_of(tr))
    elif tr.kind == "arrays":
        trait_ = t.List(t.Dict(), default_value=[])
    else:
        raise ValueError(f"trait {tr.name}: unknown kind {tr.kind!r}")
    return trait_.tag(sync=True)


def traits_base(base: type, parts: tuple[tuple[Trait, ...], ...] | None = None) -> type:
    """A subclass of ``base`` (a ``HasTraits``) that declares the traits of ``parts`` (default:
    every part of :data:`PARTS`)."""
    chosen = tuple(PARTS.values()) if parts is None else parts
    body = {tr.name: declare(tr) for part in chosen for tr in part}
    body["__doc__"] = "The synced traits of the widget, declared from ``widget/protocol.py``."
    return type(f"{base.__name__}Traits", (base,), body)

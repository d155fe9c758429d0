"""The trait contract written once (``widget/protocol.py``): the generated frontend types and docs
tables are current, the widget declares exactly the described traits, the validators and the
keyword controls follow the descriptions, and the controls marked ``kernel`` are the ones whose
change makes a kernel-mode widget compute maps."""

from __future__ import annotations

import json

import anywidget
import numpy as np
import pytest
import torch
import traitlets

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget, protocol, protocol_gen
from tscam_widget.widget.options import OPTIONS

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_generated_files_are_current():
    stale = [str(p.relative_to(protocol_gen.ROOT)) for p in protocol_gen.stale()]
    assert stale == [], f"run python -m tscam_widget.widget.protocol_gen ({stale})"


def test_stale_check_sees_an_edit(tmp_path, monkeypatch):
    """The check compares text: a hand edit of a table row is caught."""
    doc = tmp_path / "protocol.md"
    doc.write_text(
        protocol_gen.DOC_PATH.read_text().replace("| `layer` | Int |", "| `layer` | Float |")
    )
    monkeypatch.setattr(protocol_gen, "DOC_PATH", doc)
    assert doc in protocol_gen.stale()


def test_widget_declares_exactly_the_described_traits():
    own = set(anywidget.AnyWidget.class_trait_names(sync=True))
    declared = set(CamWidget.class_trait_names(sync=True)) - own
    described = {tr.name for tr in protocol.all_traits()}
    assert declared == described
    for tr in protocol.all_traits():
        trait = CamWidget.class_traits()[tr.name]
        if tr.kind == "array":
            assert trait.default()["dtype"] == (tr.dtype or "float32"), tr.name
        elif tr.kind in ("int", "float", "bool", "str", "union"):
            assert trait.default() == tr.default, tr.name


@pytest.fixture(scope="module")
def widget():
    torch.manual_seed(0)
    model = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    X = np.random.RandomState(0).randn(6, 1, 24).astype(np.float32).cumsum(-1)
    return CamWidget(model, X, np.arange(6) % 3, precompute=False, progress=False)


def test_menus_and_validators_follow_the_values(widget):
    # the options trait holds the described values, labelled
    assert [v for v, _ in OPTIONS["series_view"]] == ["original", "input"]
    assert dict(OPTIONS["linestyle"])["dashdot"] == "dash-dot"
    assert widget.options["view"] == [(v, v) for v in protocol.VIEWS]
    for name, values in protocol.fixed_options().items():
        for v in values:
            setattr(widget, name, v)
            assert getattr(widget, name) == v
        with pytest.raises(traitlets.TraitError, match=name):
            setattr(widget, name, "no-such-value")
        setattr(widget, name, protocol.trait(name).default)
    widget.sample = np.int64(2)  # numpy ints are taken
    assert widget.sample == 2 and type(widget.sample) is int
    widget.target = np.int32(1)
    assert widget.target == 1
    widget.target = "pred"


def test_keyword_controls_are_the_described_ones():
    init = protocol.init_controls()
    assert "style" in init and "request_id" not in init
    assert set(init) - {"style"} == {
        tr.name for tr in protocol.CONTROLS if tr.name not in protocol.CONSTRUCTOR_CONTROLS
    } - {"request_id"}
    with pytest.raises(TypeError, match="sample_sort"):
        CamWidget(None, None, no_such_control=1)


def _one_change(w, name):
    """Another valid value for a control."""
    cur = getattr(w, name)
    if name in ("view", "norm", "mark", "linestyle", "series_view"):
        return next(v for v in protocol.fixed_options()[name] if v != cur and v != "trust")
    other = {
        "layer": lambda: 0 if cur else 1,
        "sample": lambda: (cur + 1) % w.n_samples,
        "method": lambda: next(m for m in w.methods if m != cur),
        "reduction": lambda: next(r for r in w.reductions if r != cur),
        "target": lambda: "true" if cur == "pred" else "pred",
        "cmap": lambda: "viridis" if cur != "viridis" else "magma",
        "view_count": lambda: cur + 1,
        "linewidth": lambda: cur + 1.0,
        "alpha": lambda: 0.5 if cur != 0.5 else 0.25,
        "playing": lambda: not cur,
        "play_interval_ms": lambda: cur + 1,
        "sample_filter": lambda: "correct" if cur != "correct" else "all",
        "filter_true": lambda: 1 if cur != 1 else -1,
        "filter_pred": lambda: 0 if cur != 0 else -1,
        "sample_sort": lambda: "confidence" if cur != "confidence" else "index",
        # a snapshot to scrub to (the frontend draws it from the timeline traits)
        "epoch": lambda: (w.snapshot(), w.flush(), 0)[-1] if cur < 0 else -1,
    }
    return other[name]()


def test_kernel_controls_are_those_that_compute_maps(widget):
    """A kernel-mode widget computes maps after a change of exactly the controls marked
    ``kernel`` (which the frontend's KERNEL_NEEDS lists); view is set to grid first so that
    view_count matters."""
    w = widget
    w.view = "grid"
    w.flush()
    for tr in protocol.all_traits():
        # request_id: the frontend's own counter; randomised asks for the trust scores (a flush
        # of its own, tests/test_trust_widget.py)
        skip = ("request_id", "view", "randomised")
        if not tr.control or tr.name in skip:
            continue
        before = w.stats["map_updates"]
        setattr(w, tr.name, _one_change(w, tr.name))
        w.flush()
        computed = w.stats["map_updates"] > before
        assert computed == tr.kernel, tr.name
    before = w.stats["map_updates"]
    w.view = "overlay"
    w.flush()
    assert w.stats["map_updates"] > before  # view is marked kernel
    assert protocol.trait("view").kernel


def _const(ts: str, name: str) -> list[dict]:
    """The entries of a generated ``export const NAME: ... = [ ... ];`` list (one JSON a line)."""
    block = ts.split(f"export const {name}: ", 1)[1].split("\n];", 1)[0]
    return [json.loads(line.strip().rstrip(",")) for line in block.splitlines()[1:]]


def test_a_new_menu_and_trust_table_need_only_the_protocol():
    """A display menu control and a trust table added to a copy of the protocol come out in the
    generated MENU_CONTROLS / TRUST_TABLES (the frontend builds both from these lists)."""
    fill = protocol.Trait(
        "fill",
        "str",
        "none",
        "fake",
        values=("none", "area"),
        control=True,
        hidden_in=("trust",),
        menu=protocol.Menu("fill", "fill under the line"),
    )
    fake = protocol.Trait(
        "trust_fake",
        "array",
        None,
        "fake",
        dtype="float32",
        shape="[L, M]",
        table=protocol.Table("fake", "fake ({loc_metric})", "sequential", "#112233"),
    )
    parts = dict(protocol.PARTS)
    parts["controls"] = (*parts["controls"], fill)
    parts["trust"] = (*parts["trust"], fake)
    before = protocol_gen.typescript()
    ts = protocol_gen.typescript(parts)
    menus = _const(ts, "MENU_CONTROLS")
    assert [m["name"] for m in menus] == ["mark", "series_view", "fill"]
    assert menus[-1] == {
        "name": "fill",
        "label": "fill",
        "title": "fill under the line",
        "hidden_in": ["trust"],
        "options": [["none", "none"], ["area", "area"]],
    }
    assert _const(before, "MENU_CONTROLS") == menus[:-1]
    assert menus[1]["options"] == [["original", "original"], ["input", "model input"]]  # labels
    tables = _const(ts, "TRUST_TABLES")
    assert [t["name"] for t in tables] == ["gain", "loc", "corr", "fake"]
    assert tables[-1] == {
        "trait": "trust_fake",
        "name": "fake",
        "title": "fake ({loc_metric})",
        "scale": "sequential",
        "colour": "#112233",
        "negative": "",
        "span": 1.0,
        "grow": False,
        "magnitude": False,
    }
    assert _const(before, "TRUST_TABLES") == tables[:-1]
    # the new traits are typed, the control named, the table's buffer listed
    assert "  fill: string; // " in ts and "  trust_fake: Packed | null; // " in ts
    assert '| "fill"' in ts and '"trust_fake"]' in ts.split("TRUST_ARRAYS = ", 1)[1].split("\n")[0]
    # the widget's own menus: the options trait carries every generic menu
    assert {m["name"] for m in _const(before, "MENU_CONTROLS")} <= set(protocol.menus())


def test_menu_and_table_descriptions_are_checked():
    with pytest.raises(ValueError, match="trait w: a menu needs a str control with values"):
        protocol.Trait("w", "float", 1.0, "", control=True, menu=protocol.Menu("w"))
    with pytest.raises(ValueError, match="trait t: a table needs an array trait, got 'list'"):
        protocol.Trait("t", "list", [], "", table=protocol.Table("t", "t", "sequential", "#000"))
    with pytest.raises(ValueError, match="table scale must be .* got 'rainbow'"):
        protocol.Trait("t", "array", None, "", table=protocol.Table("t", "t", "rainbow", "#000"))

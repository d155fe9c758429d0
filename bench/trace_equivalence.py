"""Equivalence check for changes to the trace (:mod:`tscam_widget.explain.trace`): what a new
explainer resolves, for every model of the tsai zoo (``bench/zoo.py``'s ``MODELS``, untrained,
3 channels, 4 classes, built for length 128) at lengths 128 and 200, and for the reference models
of :mod:`tscam_widget.models` (InceptionTime, FCN, ResNet1d; 3 channels at 128 and 200, and
InceptionTime(1, 2) at 500).

Per model and length it records the default selection (``Explainer(model).resolve(x)``) with its
layouts, the trace's ``differentiable``, ``longer_error`` and the sizes of ``main``/``depth``/
``cuts`` (with the sorted depth values), every traced call's layouts (a layout or why none was
found), and for ``layers="all"`` the resolved names and layouts. Weights and inputs are seeded,
so two runs of unchanged code write the same JSON. Models that fail to build are skipped (printed
with why); a resolution that raises is recorded as its error.

It also times a new explainer's resolution (median of ``--runs`` ``Explainer(model).resolve(x)``
calls, default layers) per model and length, kept apart under ``"_times"`` so that diffing the
results ignores them; the total is printed.

    python bench/trace_equivalence.py --out /tmp/trace_before.json
    python bench/trace_equivalence.py --out /tmp/trace_after.json --compare /tmp/trace_before.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from zoo import MODELS, build  # noqa: E402

LENGTHS = (128, 200)


def _layout(lay: object) -> object:
    if isinstance(lay, str):
        return lay
    return {
        "axes": lay.axes,
        "element": list(lay.element),
        "drop": lay.drop,
        "stride": lay.stride,
        "source": lay.source,
        "describe": lay.describe(),
    }


def record(model: torch.nn.Module, x: torch.Tensor, runs: int) -> tuple[dict, float]:
    from tscam_widget.explain import Explainer

    out: dict = {}
    try:
        ex = Explainer(model)
        out["default"] = ex.resolve(x)
        out["layouts"] = ex.layouts
        tr = ex.resolution.trace
        out["differentiable"] = tr.differentiable
        out["longer_error"] = tr.longer_error
        out["main"] = len(tr.main)
        out["depth"] = len(tr.depth)
        out["depth_values"] = sorted(tr.depth.values())
        out["cuts"] = len(tr.cuts)
        out["counts"] = tr.counts
        out["calls"] = [
            [r.module_name, r.call, {str(list(p)): _layout(v) for p, v in r.layouts.items()}]
            for r in tr.calls
        ]
    except Exception as e:  # noqa: BLE001 - recorded
        out["error"] = f"{type(e).__name__}: {e}"
    try:
        ex_all = Explainer(model, layers="all")
        out["all"] = ex_all.resolve(x)
        out["all_layouts"] = ex_all.layouts
    except Exception as e:  # noqa: BLE001 - recorded
        out["all_error"] = f"{type(e).__name__}: {e}"
    times = []
    if "error" not in out:
        for _ in range(runs):
            t0 = time.perf_counter()
            Explainer(model).resolve(x)
            times.append(time.perf_counter() - t0)
    return out, statistics.median(times) if times else 0.0


def cases() -> list[tuple[str, int, object]]:
    """(model name, length, builder)"""
    from tscam_widget.models import FCN, InceptionTime, ResNet1d

    out: list[tuple[str, int, object]] = []
    for name in MODELS:
        for length in LENGTHS:
            out.append((name, length, lambda name=name: build(name, 3, 4, 128)))
    for cls in (InceptionTime, FCN, ResNet1d):
        for length in LENGTHS:
            out.append((f"tscam.{cls.__name__}", length, lambda cls=cls: cls(3, 4)))
    out.append(("tscam.InceptionTime(1,2)", 500, lambda: InceptionTime(1, 2)))
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--compare", help="a JSON file from an earlier run: list the differences")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--models", nargs="*", help="only these (names as in the output)")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(max(1, torch.get_num_threads()))
    results: dict = {}
    times: dict = {}
    for name, length, make in cases():
        if args.models and name not in args.models:
            continue
        key = f"{name}@{length}"
        torch.manual_seed(0)
        try:
            model = make()
        except Exception as e:  # noqa: BLE001 - skipped
            print(f"# {key}: skipped, does not build: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        model.eval()
        c_in = 1 if name.endswith("(1,2)") else 3
        n = 64 if name.endswith("(1,2)") else 8
        g = torch.Generator().manual_seed(1)
        x = torch.randn(n, c_in, length, generator=g)
        results[key], times[key] = record(model, x, args.runs)
        r = results[key]
        what = r.get("error") or f"{len(r['default'])} default, {len(r.get('all', []))} all"
        print(f"# {key}: {what}; resolve {1000 * times[key]:.1f} ms", file=sys.stderr)
    total = sum(times.values())
    print(
        f"total resolve time (median of {args.runs}, summed over {len(times)}): "
        f"{1000 * total:.0f} ms"
    )
    Path(args.out).write_text(json.dumps({**results, "_times": times}, indent=1, sort_keys=True))
    if args.compare:
        before = json.loads(Path(args.compare).read_text())
        bt = before.pop("_times", {})
        diffs = [k for k in sorted(set(before) | set(results)) if before.get(k) != results.get(k)]
        for k in diffs:
            print(f"DIFFERENT: {k}")
        print(
            f"compared {len(set(before) & set(results))} model x length cases; {len(diffs)} differ"
        )
        common = [k for k in times if k in bt]
        if common:
            tb, ta = sum(bt[k] for k in common), sum(times[k] for k in common)
            print(
                f"resolve time over {len(common)} cases: before {1000 * tb:.0f} ms, "
                f"after {1000 * ta:.0f} ms ({ta / tb:.2f} x)"
            )
            for k in common:
                print(f"  {k}: {1000 * bt[k]:.1f} -> {1000 * times[k]:.1f} ms")


if __name__ == "__main__":
    main()

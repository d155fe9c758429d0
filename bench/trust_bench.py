"""Cost of the trust scores (``tscam_widget.metrics``) beside the explain time of the same data.

ECG200-sized data: ``--n`` (100) synthetic series of length ``--length`` (96), InceptionTime
trained for ``--epochs`` on 300 more (the weights matter little for the cost, but a trained
model's maps rank time steps as they would for a user). All in one process, ``--threads`` torch
threads (default 2), times are the median of ``--runs`` runs after a warm-up:

  explain   ``Explainer.explain`` of the N series, every default layer (the input first) and every
            default method (the maps the table scores)
  (a)       the current sample's curves for one layer (the deepest) and one method (gradcam):
            ``deletion_curves`` on that sample's map from the explanation the widget holds,
            MoRF + LeRF + ``--draws`` random orders, K = ``--steps`` (what the widget computes
            when you select a cell); (a+) the same through ``evaluate(..., sanity=False)`` on
            that one sample (includes its explain)
  (b)       the full table: ``evaluate(model, X, sanity=False)``, all layers x every default
            method, K = ``--steps``, ``--draws`` random draws
  (b+s)     the same with the sanity checks (cascading randomisation, self-agreement, random
            logit): ``evaluate(model, X)``

"forwards" counts the perturbed series the model evaluated (distinct (sample, removed set)
pairs), "unshared" what a per-map, per-step loop would have run.

Usage: ``python bench/trust_bench.py [--n 100] [--length 96] [--runs 3] [--threads 2]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def timed(fn, runs: int):
    fn()  # warm-up
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--length", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--perturbation", default="interp")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from tscam_widget.data.synthetic import synthetic
    from tscam_widget.explain import Explainer
    from tscam_widget.metrics import deletion_curves, evaluate, make_perturbation
    from tscam_widget.models import InceptionTime, encode_labels, train

    xtr, ytr, _ = synthetic(300, args.length, seed=0)
    x, y, _ = synthetic(args.n, args.length, seed=1)
    yi, classes = encode_labels(ytr)
    torch.manual_seed(0)
    model = InceptionTime(1, len(classes))
    train(model, xtr, yi, epochs=args.epochs, seed=0)
    model.eval()
    print(
        f"InceptionTime, {args.n} x 1 x {args.length}, K={args.steps}, {args.draws} random "
        f"draws, perturbation={args.perturbation!r}, {args.threads} torch threads, median of "
        f"{args.runs}"
    )

    ex = Explainer(model, with_input=True)
    t_explain, expl = timed(lambda: ex.explain(x, norm="none"), args.runs)
    print(
        f"explain        {t_explain:7.2f} s  ({len(expl.layers)} layers x {len(expl.keys)} methods)"
    )

    # (a) one sample, one layer, one method, from the explanation already held
    xt = torch.from_numpy(expl.x)
    pert = make_perturbation(args.perturbation, xt)
    one = expl.get("gradcam", -1, norm="none")[:1][:, None, :]

    def fwd(b: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(b)

    def case_a():
        return deletion_curves(
            fwd,
            pert,
            one,
            expl.target[:1],
            steps=args.steps,
            random_draws=args.draws,
            samples=np.array([0]),
        )

    t_a, res_a = timed(case_a, args.runs)
    print(
        f"(a)  one cell  {t_a:7.3f} s  forwards {res_a.forwards} (unshared "
        f"{res_a.forwards_unshared}) in {res_a.forward_calls} call(s)"
    )
    deepest = expl.layers[-1]
    t_a2, rep_a2 = timed(
        lambda: evaluate(
            model,
            x[:1],
            layers=[deepest],
            methods=["gradcam"],
            steps=args.steps,
            random_draws=args.draws,
            perturbation=args.perturbation,
            sanity=False,
        ),
        args.runs,
    )
    print(f"(a+) evaluate  {t_a2:7.3f} s  forwards {rep_a2.forwards} (incl. its explain)")

    t_b, rep = timed(
        lambda: evaluate(
            model,
            x,
            steps=args.steps,
            random_draws=args.draws,
            perturbation=args.perturbation,
            sanity=False,
        ),
        args.runs,
    )
    print(
        f"(b)  table     {t_b:7.2f} s  = {t_b / t_explain:.1f} x explain; forwards "
        f"{rep.forwards} (unshared {rep.forwards_unshared}, "
        f"{rep.forwards_unshared / rep.forwards:.1f} x more) in {rep.forward_calls} calls; "
        f"split {', '.join(f'{k} {v:.2f} s' for k, v in rep.seconds.items())}"
    )
    t_s, rep_s = timed(
        lambda: evaluate(
            model, x, steps=args.steps, random_draws=args.draws, perturbation=args.perturbation
        ),
        1,
    )
    print(
        f"(b+s) + sanity {t_s:7.2f} s  = {t_s / t_explain:.1f} x explain; "
        f"{len(rep_s.stages)} randomisation stages; split "
        f"{', '.join(f'{k} {v:.2f} s' for k, v in rep_s.seconds.items())}"
    )
    print()
    print(rep.table("gain"))


if __name__ == "__main__":
    main()

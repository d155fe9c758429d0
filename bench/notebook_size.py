"""Saved-notebook size: a notebook with three executed CamWidgets of a tsai Learner, its widget
state stored in the file as JupyterLab's "save widget state" does (nbclient
``store_widget_state=True``), and which traits take the bytes.

The case of issue 12: three widgets of the full validation set (GunPoint test, 150 x 150, from
``TSCAM_WIDGET_DATA``; ArrowHead, the issue's data, is not available offline), a tsai
InceptionTime trained briefly with a ``TSStandardize`` batch transform.

Run: ``.venv/bin/python bench/notebook_size.py [--epochs E] [--out FILE]``. To compare with an
older checkout, run this file with ``PYTHONPATH=<that checkout>`` (the cells only use
``CamWidget(learn, progress=False)``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

SETUP = """\
import warnings; warnings.filterwarnings("ignore")
from tsai.basics import *
from tsai.models.InceptionTime import InceptionTime
from tscam_widget import CamWidget
from tscam_widget.data import load_ucr
Xtr, ytr = load_ucr("GunPoint", split="train")
Xte, yte = load_ucr("GunPoint", split="test")
X, y, splits = combine_split_data([Xtr, Xte], [ytr, yte])
dls = get_ts_dls(X, y, splits=splits, tfms=[None, TSClassification()],
                 batch_tfms=[TSStandardize()], bs=16)
learn = ts_learner(dls, InceptionTime, metrics=accuracy, seed=0)
with learn.no_bar(), learn.no_logging():
    learn.fit_one_cycle({epochs}, 1e-3)
"""
WIDGET = "w{i} = CamWidget(learn, progress=False{extra})\nw{i}"
# as a user saves after the widgets finished their background work (older versions computed
# everything in the constructor and have no ready())
WAIT = """\
for w in (w0, w1, w2):
    if hasattr(w, "ready"):
        await w.ready()
"""


def traits_bytes(nb: nbformat.NotebookNode) -> dict[str, int]:
    """Bytes of the saved widget state per CamWidget trait (base64 buffers included)."""
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    out: dict[str, int] = {}
    for model in state.values():
        if model.get("model_name") != "AnyModel":
            continue
        s = model["state"]
        for k, v in s.items():
            out[k] = out.get(k, 0) + len(json.dumps(v))
        for b in model.get("buffers", []):
            name = b["path"][0]
            out[name] = out.get(name, 0) + len(b["data"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="keep the executed notebook here")
    ap.add_argument(
        "--extra",
        default="",
        help="extra CamWidget arguments, e.g. ', norm=\"layer\"'",
    )
    args = ap.parse_args()
    if not os.environ.get("TSCAM_WIDGET_DATA"):
        sys.exit("set TSCAM_WIDGET_DATA to the folder holding GunPoint (../shared/data/ucr)")
    cells = [nbformat.v4.new_code_cell(SETUP.format(epochs=args.epochs))]
    cells += [nbformat.v4.new_code_cell(WIDGET.format(i=i, extra=args.extra)) for i in range(3)]
    cells.append(nbformat.v4.new_code_cell(WAIT))
    nb = nbformat.v4.new_notebook(cells=cells)
    with tempfile.TemporaryDirectory() as tmp:
        NotebookClient(
            nb,
            timeout=1200,
            kernel_name="python3",
            store_widget_state=True,
            resources={"metadata": {"path": tmp}},
        ).execute()
    out = args.out or Path(tempfile.gettempdir()) / "tscam_notebook_size.ipynb"
    nbformat.write(nb, out)
    size = out.stat().st_size
    per = traits_bytes(nb)
    top = sorted(per.items(), key=lambda kv: -kv[1])[:8]
    print(f"notebook with 3 executed widgets: {size:,} bytes ({size / 1e6:.2f} MB) -> {out}")
    print("largest traits (all three widgets, as saved; buffers as base64 text):")
    for k, v in top:
        print(f"  {k:16s} {v:>12,} bytes")


if __name__ == "__main__":
    main()

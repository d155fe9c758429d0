"""``tscam-widget demo``: ``--dataset`` (a UCR name, a file), ``--model``, ``--samples``,
``--epochs`` and ``--lab``, run through the real entry point (tiny runs: 1 epoch)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tscam_widget import cli, models
from tscam_widget.models.fcn_resnet import FCN, ResNet1d


def page_state(path: Path) -> dict:
    html = path.read_text()
    spec = html.split('type="application/vnd.tscam-widget+json">\n')[1].split("\n</")[0]
    return json.loads(spec)["state"]


@pytest.mark.parametrize(
    "dataset, model",
    [("GunPoint", "fcn"), ("file", "resnet")],
)
def test_demo_dataset_and_model(ucr_dir, tmp_path, monkeypatch, capsys, dataset, model):
    monkeypatch.setenv("TSCAM_WIDGET_DATA", str(ucr_dir))
    built: list = []
    real_build = models.build_model
    monkeypatch.setattr(
        models, "build_model", lambda *a, **k: built.append(real_build(*a, **k)) or built[-1]
    )
    name = str(ucr_dir / "GunPoint" / "GunPoint_TRAIN.ts") if dataset == "file" else dataset
    out = tmp_path / "page.html"
    args = ["demo", "--dataset", name, "--model", model, "--epochs", "1", "--samples", "5"]
    assert cli.main([*args, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    # GunPoint: the file's _TEST sibling is used as the test split in both cases
    assert "dataset GunPoint: train 50, test 150, 1 channel(s) x 150 steps, 2 classes" in text
    assert re.search(rf"{model} trained in [\d.]+ s: test accuracy [\d.]+", text)
    state = page_state(out)
    assert state["n_samples"] == 5 and state["classes"] == ["1", "2"]
    assert state["precomputed"] is True
    # the model asked for is the one trained and explained
    assert [type(m) for m in built] == [{"fcn": FCN, "resnet": ResNet1d}[model]]
    assert state["layers"] == ["input", "blocks.0", "blocks.1", "blocks.2"]


def test_demo_missing_file_and_unknown_model(tmp_path, capsys):
    with pytest.raises(SystemExit, match="--dataset: no such file"):
        cli.main(["demo", "--dataset", str(tmp_path / "Nope_TRAIN.ts")])
    with pytest.raises(SystemExit):
        cli.main(["demo", "--model", "transformer"])
    assert "invalid choice: 'transformer'" in capsys.readouterr().err


def test_demo_lab_starts_jupyterlab_on_the_quickstart(monkeypatch):
    calls: list = []
    monkeypatch.setattr(subprocess, "call", lambda cmd: calls.append(cmd) or 0)
    assert cli.main(["demo", "--lab"]) == 0
    (cmd,) = calls
    assert cmd[:3] == [sys.executable, "-m", "jupyterlab"]
    assert Path(cmd[3]).name == "quickstart.ipynb" and Path(cmd[3]).is_file()

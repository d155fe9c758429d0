"""The README's first command end to end: ``tscam-widget demo`` trains on the embedded synthetic
data and writes one HTML page; opened from file:// with every other request aborted, the page
draws, and its sliders, menus, views and play button work with no kernel."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness import canvas_rgba, digest

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo") / "demo.html"
    cmd = [sys.executable, "-m", "tscam_widget.cli", "demo", "--epochs", "2", "--samples", "12"]
    done = subprocess.run(
        [*cmd, "--out", str(out)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done.stdout


def test_demo_prints_accuracy_and_the_page_it_wrote(demo_page: tuple[Path, str]) -> None:
    out, stdout = demo_page
    acc = re.search(r"test accuracy (\d\.\d+)", stdout)
    assert acc, stdout
    assert 0.0 <= float(acc.group(1)) <= 1.0
    assert str(out.resolve()) in stdout and out.stat().st_size > 1_000_000
    html = out.read_text()
    # everything inline: no script is loaded from a file or address (the network test is below)
    assert not re.search(r"<script[^>]+src=", html)


def _wait_painted(page, canvas, before: int, timeout: float = 5.0) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        now = digest(canvas_rgba(canvas))
        if now != before:
            return now
        page.wait_for_timeout(50)
    raise AssertionError("the canvas did not change")


def test_offline_page_is_interactive_without_a_kernel(
    demo_page: tuple[Path, str], open_page, artifacts: Path
) -> None:
    out, _ = demo_page
    page, _log = open_page()
    outside: list[str] = []

    def route(r) -> None:
        if r.request.url.startswith(("file:", "blob:", "data:")):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(out.resolve().as_uri())
    canvas = page.wait_for_selector("canvas.tscam-main", timeout=30_000)
    page.wait_for_timeout(300)
    first = digest(canvas_rgba(canvas))
    page.screenshot(path=str(artifacts / "export-demo.png"))

    layer = page.locator("[data-control=layer]")
    n_layers = int(layer.get_attribute("max")) + 1
    assert n_layers == 6  # InceptionTime's blocks
    layer.fill("0")  # a range input: sets the value and fires input/change
    moved = _wait_painted(page, canvas, first)

    sample = page.locator("[data-control=sample-box]")
    sample.fill("3")
    sample.press("Enter")
    moved = _wait_painted(page, canvas, moved)

    page.locator("[data-control=method]").select_option("hirescam")
    moved = _wait_painted(page, canvas, moved)

    page.locator("[data-control=play]").click()
    page.wait_for_timeout(2500)
    page.locator("[data-control=play]").click()
    assert layer.input_value() != "0", "play did not advance the layer"

    for view in ("grid", "overlay"):
        page.locator("[data-control=view]").select_option(view)
        moved = _wait_painted(page, canvas, moved)
        page.screenshot(path=str(artifacts / f"export-{view}.png"))
    assert outside == [], f"the offline page tried the network: {outside[:5]}"

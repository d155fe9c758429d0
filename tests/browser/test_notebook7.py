"""CamWidget in Jupyter Notebook 7 (``/notebooks/NAME.ipynb``): the same anywidget bundle
renders there too, with its series drawn in colours of the colour table."""

from __future__ import annotations

import numpy as np
import pytest
from harness import (
    SYNTHETIC,
    canvas_rgba,
    cmap_index,
    open_notebook7,
    series_components,
    wait_until,
)

pytestmark = pytest.mark.browser


def test_notebook7_renders_widget(notebook_server, open_page, artifacts):
    name = notebook_server.write_notebook("cam_nb7.ipynb", [SYNTHETIC])
    page, _ = open_page()
    open_notebook7(page, notebook_server, name)
    kernel = notebook_server.kernel(name)
    try:
        table = np.array(kernel.eval("unpack(w.cmap_table)"), np.uint8)
        canvas = page.locator(".tscam-root canvas.tscam-main").first
        canvas.wait_for()

        def drawn() -> np.ndarray | None:
            rgb = canvas_rgba(canvas.element_handle())[..., :3]
            return [rgb] if (cmap_index(rgb, table) >= 0).sum() > 500 else None

        rgb = wait_until(drawn, 30, 0.2, "a drawn series in Notebook 7")[0]
        page.locator(".tscam-root").first.screenshot(path=str(artifacts / "nb7-widget.png"))
        bg = rgb[0, 0].astype(int)
        assert (np.abs(rgb.astype(int) - bg).max(2) > 40).mean() > 0.01, "canvas is blank"
        assert len(series_components(cmap_index(rgb, table))) == 1
        # the page is Notebook 7's, not JupyterLab's
        assert page.evaluate("() => !!document.querySelector('#main-panel, .jp-NotebookShell')")
    finally:
        kernel.close()
        page.context.close()

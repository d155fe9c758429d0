"""Grid and overlay follow the sample menu: with a filter or a sort they show the listed samples
from the current one on, not the next indices (a user's "mistakes" grid showed three correct
samples). Kernel mode: Python computes the maps of exactly those (the frontend's side:
js/test/state.test.ts)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tscam_widget.models import InceptionTime
from tscam_widget.widget import CamWidget
from tscam_widget.widget.samples import visible_samples

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_visible_samples_rule():
    assert visible_samples("single", 5, 3, 10, np.array([2, 5, 7])) == [5]
    assert visible_samples("grid", 3, 4, 10) == [3, 4, 5, 6]
    assert visible_samples("overlay", 8, 4, 10) == [8, 9]
    assert visible_samples("grid", 5, 3, 10, np.array([2, 5, 7, 9])) == [5, 7, 9]
    assert visible_samples("grid", 0, 3, 10, np.array([2, 5, 7, 9])) == [0, 2, 5]


def test_grid_shows_the_listed_mistakes():
    torch.manual_seed(0)
    model = InceptionTime(1, 3, nf=4, depth=3, bottleneck=4, kernel_sizes=(9, 5, 3)).eval()
    X = np.random.RandomState(1).randn(12, 1, 24).astype(np.float32).cumsum(-1)
    with torch.no_grad():
        pred = model(torch.from_numpy(X)).argmax(1).numpy()  # the oracle: a plain forward
    y = (pred + (np.arange(12) % 3 == 0)) % 3  # every third sample a mistake: 0, 3, 6, 9
    w = CamWidget(model, X, y, precompute=False, progress=False, view="grid", view_count=3)
    w.sample_filter = "mistakes"
    np.testing.assert_array_equal(w.sample_list, [0, 3, 6, 9])
    assert w.sample == 0
    w.sample = 3
    w.flush()
    assert w.maps_meta["samples"] == [3, 6, 9]  # the listed ones, not 3, 4, 5
    assert (w.y_pred[[3, 6, 9]] != y[[3, 6, 9]]).all()
    w.sample_filter = "all"
    w.flush()
    assert w.maps_meta["samples"] == [3, 4, 5]

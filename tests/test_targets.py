"""The target rule (tscam_widget.explain.targets): one check and one resolution shared by the
explainer (torch) and the widget (numpy)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tscam_widget.explain.targets import check_target, target_array, target_tensor

Y = np.array([2, 0, 1, 1])
PRED = np.array([0, 0, 2, -1], np.int32)  # -1: no prediction yet


def test_check_target_forms():
    assert check_target("pred", 4) == "pred"
    assert check_target("true", 4, Y) == "true"
    assert check_target(np.int64(2), 4, n_classes=3) == 2
    assert check_target("b", 4, names=["a", "b", "c"]) == 1
    np.testing.assert_array_equal(check_target([0, 1, 2, 0], 4), [0, 1, 2, 0])


@pytest.mark.parametrize(
    "target, kw, kind, message",
    [
        ("best", {}, ValueError, r"target: expected 'pred', 'true', an int or an array of ints, "),
        (
            "z",
            dict(n_classes=3, names=["a", "b", "c"], arrays=False),
            ValueError,
            r"a class index 0\.\.2 or a class name \['a', 'b', 'c'\], got 'z'",
        ),
        (True, {}, TypeError, "got a bool"),
        (
            5,
            dict(n_classes=3),
            ValueError,
            r"expected an int in 0\.\.2 \(the model has 3 classes\), got 5",
        ),
        ([0, 3, 1, 4], dict(n_classes=3), ValueError, r"got \[3, 4\]"),
        ([0, 1], {}, ValueError, r"target: expected 4 labels \(one per sample\), got shape \[2\]"),
        ([0, 1, 1, 1], dict(arrays=False), TypeError, "got list"),
        ("true", {}, ValueError, "'true' needs the true label of every sample, got no y"),
        (
            "true",
            dict(y=np.array([0, -1, 1, -1]), ids=np.array([5, 6, 7, 9])),
            ValueError,
            r"got no label for sample\(s\) \[6, 9\]",
        ),
    ],
)
def test_check_target_errors(target, kw, kind, message):
    with pytest.raises(kind, match=message):
        check_target(target, 4, **kw)


def test_numpy_and_torch_resolve_alike():
    logits = torch.tensor([[0.0, 1, 0], [2, 0, 0], [0, 0, 3], [0, 5, 0]])
    for target in ("true", 1, np.array([2, 2, 0, 1])):
        np.testing.assert_array_equal(
            target_tensor(target, logits, Y).numpy(), target_array(target, PRED, Y)
        )
    assert target_tensor("pred", logits, Y).tolist() == [1, 0, 2, 1]
    assert target_array("pred", PRED, Y).tolist() == PRED.tolist()  # -1 stays unknown
    # a batch of the input from sample 2: labels and arrays are sliced, predictions are the batch's
    assert target_tensor("true", logits[:2], Y, start=2).tolist() == [1, 1]
    assert target_tensor(np.array([0, 1, 2, 0]), logits[:2], None, start=2).tolist() == [2, 0]
    with pytest.raises(ValueError, match=r"the model has 2 classes\), got 2"):
        target_tensor(2, logits[:, :2], None)

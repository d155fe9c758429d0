"""No module imports another module's private (``_underscore``) names (issue 18)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "tscam_widget"


def _private_imports() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            ours = node.level > 0 or (node.module or "").startswith("tscam_widget")
            for alias in node.names:
                if ours and alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append((rel, node.module or "." * node.level, alias.name))
    return found


def test_no_private_names_imported_across_modules() -> None:
    assert _private_imports() == []


def test_the_shared_helpers_are_public() -> None:
    import numpy as np

    from tscam_widget.explain.adapters import inference_dl, vocab_of
    from tscam_widget.metrics.localisation import average_ranks

    assert average_ranks(np.array([[3.0, 1.0, 1.0, 2.0]])).tolist() == [[4.0, 1.5, 1.5, 3.0]]
    assert vocab_of(type("D", (), {"vocab": [["x"], ["a", "b"]]})(), None) == ["a", "b"]
    assert inference_dl([], 1) is None

"""Readers for the UCR/UEA archive formats: ``.ts`` (aeon/sktime), ``.arff`` (Weka, univariate
and relational multivariate) and ``.tsv`` (UCR 2018, label first). Hand-written, numpy only.

Every reader returns ``(X, y)``: X float32 ``[N, C, T]`` with missing values (``?``, ``NaN``) as
NaN, y a numpy array of str labels ``[N]``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["DataFormatError", "pad_to_length", "read", "read_arff", "read_ts", "read_tsv"]

PAD_MODES = ("nan", "edge")


class DataFormatError(ValueError):
    """A data file is malformed; ``path`` and ``line`` (1-based, or None) say where."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        self.path = Path(path)
        self.line = line
        where = f"{path}, line {line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


@dataclass
class _Cases:
    """Parsed cases before stacking: one ``[C, T_i]`` float64 array, label and line per case."""

    path: Path
    series: list[np.ndarray] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    def add(self, channels: list[np.ndarray], label: str, line: int) -> None:
        lengths = {len(c) for c in channels}
        if len(lengths) > 1:
            detail = ", ".join(f"channel {i}: {len(c)}" for i, c in enumerate(channels))
            raise DataFormatError(
                self.path, line, f"channels of one case have different lengths ({detail})"
            )
        if self.series and len(channels) != self.series[0].shape[0]:
            raise DataFormatError(
                self.path,
                line,
                f"expected {self.series[0].shape[0]} channels (as on line {self.lines[0]}), "
                f"got {len(channels)}",
            )
        self.series.append(np.stack(channels))
        self.labels.append(label)
        self.lines.append(line)


def _floats(text: str, sep: str, path: Path, line: int, what: str = "") -> np.ndarray:
    """Parses ``sep``-separated numbers; ``?`` and ``NaN`` become NaN. Returns ``[n]`` float64."""
    parts = text.split(sep)
    try:
        return np.array(parts, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty(len(parts))
    for i, part in enumerate(parts):
        token = part.strip()
        if token == "?":
            out[i] = np.nan
            continue
        try:
            out[i] = float(token)
        except ValueError:
            raise DataFormatError(
                path, line, f"non-numeric value {token!r} at position {i + 1}{what}"
            ) from None
    return out


def _numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yields (1-based line number, stripped line) for every non-empty line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, raw in enumerate(f, start=1):
            line = raw.strip()
            if line:
                yield number, line


def pad_to_length(a: np.ndarray, length: int, pad: str) -> np.ndarray:
    """Pads the last axis of ``a`` to ``length``: ``pad="nan"`` appends NaN, ``"edge"`` repeats
    the last value. Returns an array of ``a``'s shape with the last axis ``length`` (``a`` itself
    when it is that long already)."""
    if pad not in PAD_MODES:
        raise ValueError(f"pad: expected None, 'nan' or 'edge', got {pad!r}")
    extra = length - a.shape[-1]
    if extra <= 0:
        return a
    widths = [(0, 0)] * (a.ndim - 1) + [(0, extra)]
    if pad == "nan":
        return np.pad(a, widths, mode="constant", constant_values=np.nan)
    return np.pad(a, widths, mode="edge")


def _stack(cases: _Cases, pad: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Stacks cases into ``X`` float32 ``[N, C, T]`` and ``y`` str ``[N]``, padding if asked."""
    if pad is not None and pad not in PAD_MODES:
        raise ValueError(f"pad: expected None, 'nan' or 'edge', got {pad!r}")
    if not cases.series:
        raise DataFormatError(cases.path, None, "no data cases after @data")
    lengths = np.array([s.shape[1] for s in cases.series])
    longest = int(lengths.max())
    shortest = int(lengths.min())
    if shortest != longest:
        if pad is None:
            raise ValueError(
                f"{cases.path}: series have unequal lengths, shortest {shortest} "
                f"(line {cases.lines[int(lengths.argmin())]}) and longest {longest} "
                f"(line {cases.lines[int(lengths.argmax())]}); pass pad='nan' (NaN tail) or "
                f"pad='edge' (repeat each series' last value) to pad every series to {longest}"
            )
        series = [pad_to_length(s, longest, pad) for s in cases.series]
    else:
        series = cases.series
    X = np.stack(series).astype(np.float32)
    return X, np.asarray(cases.labels, dtype=str)


def _header_value(line: str) -> tuple[str, str]:
    key, _, value = line.partition(" ")
    return key.lower(), value.strip()


def read_ts(path: str | Path, pad: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads an aeon/sktime ``.ts`` file. Returns X float32 ``[N, C, T]``, y str ``[N]``.

    Channels of a case are separated by ``:``, values by ``,``, the label comes last when
    ``@classLabel true`` (or ``@targetLabel true``); without labels y holds empty strings.
    ``pad`` as in :func:`read`.
    """
    path = Path(path)
    cases = _Cases(path)
    has_label = False
    class_labels: set[str] | None = None
    dimensions: int | None = None
    in_data = False
    for number, line in _numbered_lines(path):
        if line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise DataFormatError(
                    path, number, f"no @data line before this data line {line[:40]!r}"
                )
            key, value = _header_value(line)
            words = value.split()
            if key == "@data":
                in_data = True
            elif key in ("@classlabel", "@targetlabel") and words:
                has_label = words[0].lower() == "true"
                if key == "@classlabel" and has_label and len(words) > 1:
                    class_labels = set(words[1:])
            elif key == "@timestamps" and words and words[0].lower() == "true":
                raise DataFormatError(
                    path, number, "@timeStamps true (time-stamped values) is not supported"
                )
            elif key == "@dimensions" and words:
                try:
                    dimensions = int(words[0])
                except ValueError:
                    raise DataFormatError(
                        path, number, f"@dimensions expects an int, got {words[0]!r}"
                    ) from None
            continue
        parts = line.split(":")
        label = ""
        if has_label:
            if len(parts) < 2:
                raise DataFormatError(path, number, "expected values and a class label after ':'")
            label = parts.pop().strip()
            if class_labels is not None and label not in class_labels:
                raise DataFormatError(
                    path,
                    number,
                    f"class label {label!r} is not one of the @classLabel values "
                    f"{sorted(class_labels)}",
                )
        if dimensions is not None and len(parts) != dimensions:
            raise DataFormatError(
                path, number, f"expected {dimensions} channels (@dimensions), got {len(parts)}"
            )
        channels = [
            _floats(p, ",", path, number, f" of channel {i}" if len(parts) > 1 else "")
            for i, p in enumerate(parts)
        ]
        cases.add(channels, label, number)
    if not in_data:
        raise DataFormatError(path, None, "no @data line found")
    return _stack(cases, pad)


def _split_arff_row(line: str, path: Path, number: int) -> tuple[str, str]:
    """Splits a relational row ``'v,v\\nv,v',label`` into (series text, label)."""
    quote = line[0]
    end = line.rfind(quote)
    if end <= 0:
        raise DataFormatError(path, number, f"unterminated quoted series (opened with {quote})")
    rest = line[end + 1 :].strip()
    if not rest.startswith(","):
        raise DataFormatError(path, number, "expected ',label' after the quoted series")
    return line[1:end], rest[1:].strip()


def read_arff(path: str | Path, pad: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads a Weka ``.arff`` file. Returns X float32 ``[N, C, T]``, y str ``[N]``.

    Univariate: one numeric attribute per time step and the class attribute last.
    Multivariate: one relational attribute whose value is a quoted string with the channels
    separated by a literal ``\\n``, then the class. ``pad`` as in :func:`read`.
    """
    path = Path(path)
    cases = _Cases(path)
    n_attributes = 0
    relational = False
    depth = 0  # inside a relational attribute's nested @attribute block
    in_data = False
    for number, line in _numbered_lines(path):
        if line.startswith("%"):
            continue
        if not in_data:
            key, value = _header_value(line)
            if key == "@attribute":
                if depth == 0:
                    n_attributes += 1
                    if value.split()[-1].lower() == "relational":
                        relational = True
                        depth = 1
            elif key == "@end":
                depth = 0
            elif key == "@data":
                in_data = True
            elif key != "@relation":
                raise DataFormatError(path, number, f"unexpected header line {line[:40]!r}")
            continue
        if relational:
            text, label = _split_arff_row(line, path, number)
            rows = text.split("\\n")
            channels = [
                _floats(r, ",", path, number, f" of channel {i}") for i, r in enumerate(rows)
            ]
        else:
            values, _, label = line.rpartition(",")
            if not values:
                raise DataFormatError(path, number, "expected values and a class label")
            channels = [_floats(values, ",", path, number)]
            if len(channels[0]) != n_attributes - 1:
                raise DataFormatError(
                    path,
                    number,
                    f"expected {n_attributes - 1} values and a label (one per @attribute), "
                    f"got {len(channels[0])} values",
                )
        cases.add(channels, label.strip().strip("'\""), number)
    if not in_data:
        raise DataFormatError(path, None, "no @data line found")
    return _stack(cases, pad)


def read_tsv(path: str | Path, pad: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads a UCR 2018 ``.tsv`` file (label, then the values, tab-separated; univariate).

    Returns X float32 ``[N, 1, T]``, y str ``[N]``. ``pad`` as in :func:`read`.
    """
    path = Path(path)
    cases = _Cases(path)
    for number, line in _numbered_lines(path):
        label, sep, values = line.partition("\t")
        if not sep or not values.strip():
            raise DataFormatError(path, number, "expected a label and tab-separated values")
        cases.add([_floats(values, "\t", path, number)], label.strip(), number)
    return _stack(cases, pad)


_READERS = {".ts": read_ts, ".arff": read_arff, ".tsv": read_tsv}


def read(path: str | Path, pad: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads a UCR/UEA data file, chosen by suffix: ``.ts``, ``.arff`` or ``.tsv``.

    Missing values (``?``, ``NaN``) stay NaN. Series of unequal length raise a ValueError naming
    the shortest and longest length, unless ``pad`` is ``"nan"`` (append NaN) or ``"edge"``
    (repeat each series' last value) to pad every series to the longest. Malformed files raise
    :class:`DataFormatError` naming the file and line.

    Returns ``(X, y)``: X float32 ``[N, C, T]``, y numpy str ``[N]`` (e.g. ``"1"``, ``"2"``).
    """
    path = Path(path)
    reader = _READERS.get(path.suffix.lower())
    if reader is None:
        raise ValueError(
            f"path: expected a file ending in {', '.join(_READERS)}, got {str(path)!r}"
        )
    if not path.is_file():
        raise FileNotFoundError(f"path: no such file {str(path)!r}")
    return reader(path, pad=pad)

"""``load_ucr``: UCR/UEA datasets from a local folder, or downloaded once into a cache.

Downloads use urllib only. A download is written to a temporary file beside its target and
renamed when complete (and as long as Content-Length says), and the zip is extracted into a
temporary folder that is renamed into place, so an interrupted download leaves nothing behind.
"""

from __future__ import annotations

import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from tscam_widget.data.readers import PAD_MODES, pad_to_length, read

__all__ = ["DEFAULT_BASE_URL", "DownloadError", "default_cache_dir", "load_ucr"]

DEFAULT_BASE_URL = "https://timeseriesclassification.com/aeon-toolkit"
ENV_DATA = "TSCAM_WIDGET_DATA"
SUFFIXES = (".ts", ".arff", ".tsv")  # in order of preference
SPLITS = ("train", "test", "both")
_CHUNK = 1 << 16


class DownloadError(OSError):
    """A dataset could not be downloaded or unpacked; the message names the URL."""


def default_cache_dir() -> Path:
    """Returns ``~/.cache/tscam_widget`` (``$XDG_CACHE_HOME/tscam_widget`` when that is set)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tscam_widget"


def _find_file(folder: Path, name: str, split: str) -> Path | None:
    """Returns ``folder/<name>_<SPLIT>.{ts,arff,tsv}`` (first suffix that exists, case-blind)."""
    if not folder.is_dir():
        return None
    by_lower = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    for suffix in SUFFIXES:
        hit = by_lower.get(f"{name}_{split}{suffix}".lower())
        if hit is not None:
            return hit
    return None


def _expected_names(name: str, split: str) -> str:
    return ", ".join(f"{name}_{split.upper()}{s}" for s in SUFFIXES)


def _download(url: str, target: Path, progress: bool, help_text: str) -> None:
    """Downloads ``url`` to ``target`` atomically (temporary file + rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)  # noqa: S310
            except urllib.error.HTTPError as err:
                raise DownloadError(
                    f"could not download {url}: HTTP {err.code} {err.reason}. {help_text}"
                ) from err
            except (OSError, http.client.HTTPException) as err:
                reason = getattr(err, "reason", err)
                raise DownloadError(f"could not download {url}: {reason}. {help_text}") from err
            with response:
                header = response.headers.get("Content-Length")
                expected = int(header) if header and header.isdigit() else None
                received = 0
                with tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    desc=target.name,
                    disable=not progress,
                ) as bar:
                    while True:
                        try:
                            chunk = response.read(_CHUNK)
                        except (OSError, http.client.HTTPException) as err:
                            raise DownloadError(
                                f"download of {url} broke off after {received} bytes: {err}. "
                                f"{help_text}"
                            ) from err
                        if not chunk:
                            break
                        out.write(chunk)
                        received += len(chunk)
                        bar.update(len(chunk))
        if expected is not None and received != expected:
            raise DownloadError(
                f"download of {url} is incomplete: got {received} of {expected} bytes "
                f"(connection closed early). {help_text}"
            )
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _extract(archive: Path, folder: Path, url: str) -> None:
    """Extracts every file of ``archive`` flat into ``folder`` (subfolders dropped), atomically."""
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".part"))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    base = Path(info.filename).name  # flat: no paths from the archive
                    if info.is_dir() or not base or base.startswith("."):
                        continue
                    with zf.open(info) as src, open(tmp / base, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        except zipfile.BadZipFile as err:
            raise DownloadError(f"{url} is not a valid zip archive: {err}") from err
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _read_split(folder: Path, name: str, split: str, pad: str | None, origin: str) -> tuple:
    path = _find_file(folder, name, split)
    if path is None:
        raise FileNotFoundError(
            f"{origin}: no {split} data for {name!r} in {folder} "
            f"(looked for {_expected_names(name, split)})"
        )
    return read(path, pad=pad)


def _concat(parts: list[tuple[np.ndarray, np.ndarray]], pad: str | None, name: str) -> tuple:
    """Concatenates (train, test), padding the shorter split to the longer when ``pad`` is set."""
    (X1, y1), (X2, y2) = parts
    if X1.shape[1] != X2.shape[1]:
        raise ValueError(f"{name}: train has {X1.shape[1]} channels but test has {X2.shape[1]}")
    T = max(X1.shape[2], X2.shape[2])
    if X1.shape[2] != X2.shape[2]:
        if pad is None:
            raise ValueError(
                f"{name}: train series have length {X1.shape[2]} but test series {X2.shape[2]}; "
                f"pass pad='nan' or pad='edge' to pad both to {T}"
            )
        X1, X2 = pad_to_length(X1, T, pad), pad_to_length(X2, T, pad)
    return np.concatenate([X1, X2]), np.concatenate([y1, y2])


def load_ucr(
    name: str,
    split: str = "train",
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    base_url: str = DEFAULT_BASE_URL,
    pad: str | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Loads a UCR/UEA dataset, e.g. ``load_ucr("GunPoint", "test")``.

    With ``data_dir`` (or the environment variable ``TSCAM_WIDGET_DATA``) it reads
    ``<data_dir>/<name>/<name>_<SPLIT>.{ts,arff,tsv}`` (``.ts`` preferred) and never downloads.
    Otherwise it downloads ``<base_url>/<name>.zip`` once into ``cache_dir`` (default
    ``~/.cache/tscam_widget``), extracts it into ``<cache_dir>/<name>/`` and reuses that folder
    on later calls. ``split="both"`` concatenates train then test. ``pad`` as in
    :func:`tscam_widget.data.read` (``None``, ``"nan"`` or ``"edge"``); with ``"both"`` it also
    pads the split with shorter series to the other's length.

    Returns ``(X, y)``: X float32 ``[N, C, T]``, y numpy str ``[N]``.
    Raises FileNotFoundError (folder and files looked for), :class:`DownloadError` (the URL and
    how to use ``data_dir``), ValueError for bad arguments.
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise ValueError(f"name: expected a dataset name such as 'GunPoint', got {name!r}")
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if pad is not None and pad not in PAD_MODES:
        raise ValueError(f"pad: expected None, 'nan' or 'edge', got {pad!r}")
    splits = ["train", "test"] if split == "both" else [split]

    origin = "data_dir"
    if data_dir is None and os.environ.get(ENV_DATA):
        data_dir, origin = os.environ[ENV_DATA], ENV_DATA
    if data_dir is not None:
        folder = Path(data_dir).expanduser() / name
        parts = [_read_split(folder, name, s, pad, origin) for s in splits]
    else:
        cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        folder = cache / name
        if any(_find_file(folder, name, s) is None for s in splits):
            url = f"{base_url.rstrip('/')}/{name}.zip"
            help_text = (
                f"If you have the data, pass data_dir=... or set {ENV_DATA} to a folder holding "
                f"{name}/{name}_TRAIN.ts and {name}/{name}_TEST.ts"
            )
            archive = cache / f"{name}.zip"
            _download(url, archive, progress, help_text)
            try:
                _extract(archive, folder, url)
            finally:
                archive.unlink(missing_ok=True)
        parts = [_read_split(folder, name, s, pad, f"archive {name}.zip") for s in splits]
    return parts[0] if len(parts) == 1 else _concat(parts, pad, name)

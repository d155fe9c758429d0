"""tscam_widget.data: readers on real UCR/UEA files, load_ucr (local and over real HTTP) and the
synthetic dataset. Expected numbers come from the raw file text, parsed here with plain string
splitting, or from hand computation."""

from __future__ import annotations

import http.server
import io
import socket
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tscam_widget.data import (
    DataFormatError,
    DownloadError,
    load_ucr,
    read,
    synthetic,
    synthetic_classes,
    synthetic_split,
)


def raw_ts_cases(path: Path) -> list[tuple[list[list[float]], str]]:
    """Independent, naive .ts parse: [(channels as float lists, label)] for every data line."""
    lines = path.read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.strip().lower() == "@data") + 1
    out = []
    for line in lines[start:]:
        if line.strip():
            *chans, label = line.strip().split(":")
            out.append(([[float(v) for v in c.split(",")] for c in chans], label))
    return out


# ---------------------------------------------------------------- real files


def test_gunpoint_three_formats_agree(ucr_dir: Path) -> None:
    folder = ucr_dir / "GunPoint"
    X_ts, y_ts = read(folder / "GunPoint_TRAIN.ts")
    X_arff, y_arff = read(folder / "GunPoint_TRAIN.arff")
    X_tsv, y_tsv = read(folder / "GunPoint_TRAIN.tsv")
    assert X_ts.shape == (50, 1, 150) and X_ts.dtype == np.float32
    np.testing.assert_array_equal(X_ts, X_arff)
    np.testing.assert_array_equal(X_ts, X_tsv)
    assert list(y_ts) == list(y_arff) == list(y_tsv)
    assert set(y_ts) == {"1", "2"}
    # spot checks against the raw text
    raw = raw_ts_cases(folder / "GunPoint_TRAIN.ts")
    for i in (0, 2, 49):
        np.testing.assert_array_equal(X_ts[i, 0], np.float32(raw[i][0][0]))
        assert y_ts[i] == raw[i][1]
    tsv_line = (folder / "GunPoint_TRAIN.tsv").read_text().splitlines()[7].split("\t")
    assert y_tsv[7] == tsv_line[0]
    assert X_tsv[7, 0, 100] == np.float32(float(tsv_line[101]))
    assert X_ts[0, 0, 0] == np.float32(-0.6478854)


def test_basic_motions(ucr_dir: Path) -> None:
    path = ucr_dir / "BasicMotions" / "BasicMotions_TRAIN.ts"
    X, y = read(path)
    assert X.shape == (40, 6, 100)
    assert sorted(set(y)) == ["Badminton", "Running", "Standing", "Walking"]
    raw = raw_ts_cases(path)
    for i, c in ((0, 0), (5, 3), (39, 5)):
        np.testing.assert_array_equal(X[i, c], np.float32(raw[i][0][c]))
        assert y[i] == raw[i][1]


def test_japanese_vowels_unequal_lengths(ucr_dir: Path) -> None:
    path = ucr_dir / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts"
    raw = raw_ts_cases(path)
    lengths = [len(chans[0]) for chans, _ in raw]
    lo, hi = min(lengths), max(lengths)
    assert (lo, hi) == (7, 26)  # the real train split; the test split reaches 29
    with pytest.raises(ValueError, match=r"shortest 7 .*longest 26.*pad='nan'.*pad='edge'"):
        read(path)

    X, y = read(path, pad="nan")
    assert X.shape == (270, 12, 26) and len(y) == 270
    for i in (0, int(np.argmin(lengths)), 100):
        n = lengths[i]
        np.testing.assert_array_equal(X[i, :, :n], np.float32(raw[i][0]))
        assert np.isnan(X[i, :, n:]).all()
        assert y[i] == raw[i][1]

    E, _ = read(path, pad="edge")
    i = int(np.argmin(lengths))
    np.testing.assert_array_equal(E[i, :, :7], np.float32(raw[i][0]))
    for c in range(12):
        assert (E[i, c, 7:] == np.float32(raw[i][0][c][-1])).all()
    assert not np.isnan(E).any()

    test_path = ucr_dir / "JapaneseVowels" / "JapaneseVowels_TEST.ts"
    with pytest.raises(ValueError, match=r"shortest 7 .*longest 29"):
        read(test_path)
    Xb, yb = load_ucr("JapaneseVowels", "both", data_dir=ucr_dir, pad="nan")
    assert Xb.shape == (640, 12, 29) and len(yb) == 640
    np.testing.assert_array_equal(Xb[:270, :, :26], X)
    assert np.isnan(Xb[:270, :, 26:]).all()
    Xt, _ = read(test_path, pad="nan")
    np.testing.assert_array_equal(Xb[270:], Xt)
    Eb, _ = load_ucr("JapaneseVowels", "both", data_dir=ucr_dir, pad="edge")
    i = int(np.argmin(lengths))
    np.testing.assert_array_equal(Eb[i, :, 26:], np.repeat(E[i, :, -1:], 3, axis=1))


def test_italy_power_demand_via_load_ucr(ucr_dir: Path) -> None:
    Xtr, ytr = load_ucr("ItalyPowerDemand", "train", data_dir=ucr_dir)
    Xte, yte = load_ucr("ItalyPowerDemand", "test", data_dir=ucr_dir)
    Xb, yb = load_ucr("ItalyPowerDemand", "both", data_dir=ucr_dir)
    assert Xtr.shape == (67, 1, 24) and Xte.shape == (1029, 1, 24)
    np.testing.assert_array_equal(Xb, np.concatenate([Xtr, Xte]))
    assert list(yb) == list(ytr) + list(yte)
    assert set(yb) == {"1", "2"}
    raw = raw_ts_cases(ucr_dir / "ItalyPowerDemand" / "ItalyPowerDemand_TEST.ts")
    np.testing.assert_array_equal(Xte[1028, 0], np.float32(raw[1028][0][0]))


def test_readers_at_the_top_level(ucr_dir: Path) -> None:
    import tscam_widget
    from tscam_widget import data

    assert {"load_ucr", "read", "synthetic", "synthetic_split"} <= set(tscam_widget.__all__)
    for name in ("load_ucr", "read", "synthetic", "synthetic_split"):
        assert getattr(tscam_widget, name) is getattr(data, name)
    X, y = tscam_widget.load_ucr("ItalyPowerDemand", "train", data_dir=ucr_dir)
    assert X.shape == (67, 1, 24) and len(y) == 67


def test_load_ucr_env_and_missing(ucr_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TSCAM_WIDGET_DATA", str(ucr_dir))
    X, y = load_ucr("GunPoint", "test")
    assert X.shape == (150, 1, 150) and len(y) == 150
    with pytest.raises(FileNotFoundError, match=r"NoSuchSet.*NoSuchSet_TRAIN\.ts.*\.arff.*\.tsv"):
        load_ucr("NoSuchSet")
    with pytest.raises(ValueError, match=r"split: expected .*'valid'"):
        load_ucr("GunPoint", "valid")
    with pytest.raises(ValueError, match=r"pad: expected .*'zero'"):
        load_ucr("GunPoint", pad="zero")


# ---------------------------------------------------------------- malformed files


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


HEADER = "# comment\n@problemName Toy\n@univariate false\n@classLabel true a b\n"


@pytest.mark.parametrize(
    "body, pattern",
    [
        (HEADER + "1,2,3:4,5,6:a\n", r"bad\.ts, line 5: no @data line before"),
        (HEADER, r"bad\.ts: no @data line found"),
        (HEADER + "@data\n1,2,3:4,5,6:a\n1,2,3:4,5:b\n", r"bad\.ts, line 7: .*different lengths"),
        (HEADER + "@data\n1,2,3:4,5,6:a\n\n1,2,x3:4,5,6:b\n", r"bad\.ts, line 8: .*'x3'"),
        (HEADER + "@data\n1,2,3:4,5,6:a\n1,2,3:b\n", r"bad\.ts, line 7: expected 2 channels"),
        (HEADER + "@data\n1,2,3:4,5,6:c\n", r"bad\.ts, line 6: class label 'c'"),
    ],
)
def test_malformed_ts(tmp_path: Path, body: str, pattern: str) -> None:
    path = write(tmp_path, "bad.ts", body)
    with pytest.raises(DataFormatError, match=pattern):
        read(path)


def test_malformed_arff_and_tsv(tmp_path: Path) -> None:
    arff = "@relation t\n@attribute a0 numeric\n@attribute a1 numeric\n@attribute c {x,y}\n"
    with pytest.raises(DataFormatError, match=r"bad\.arff, line 7: .*'oops'"):
        read(write(tmp_path, "bad.arff", arff + "@data\n1,2,x\n1,oops,y\n"))
    with pytest.raises(DataFormatError, match=r"short\.arff, line 6: expected 2 values"):
        read(write(tmp_path, "short.arff", arff + "@data\n1,x\n"))
    with pytest.raises(DataFormatError, match=r"nodata\.arff: no @data"):
        read(write(tmp_path, "nodata.arff", arff))
    with pytest.raises(DataFormatError, match=r"bad\.tsv, line 2: .*'1,5'"):
        read(write(tmp_path, "bad.tsv", "1\t0.5\t0.25\n2\t1,5\t3\n"))
    with pytest.raises(ValueError, match=r"path: expected a file ending in .ts, .arff, .tsv"):
        read(write(tmp_path, "data.csv", "1,2\n"))
    with pytest.raises(ValueError, match=r"pad: expected None, 'nan' or 'edge', got 'zero'"):
        read(write(tmp_path, "ok.tsv", "1\t0.5\n"), pad="zero")


def test_missing_values_and_multivariate_arff(tmp_path: Path) -> None:
    ts = "@problemName m\n@equalLength false\n@classLabel true 1 2\n@data\n1,?,3:1\n4,NaN,6,7:2\n"
    X, y = read(write(tmp_path, "m.ts", ts), pad="nan")
    assert X.shape == (2, 1, 4) and list(y) == ["1", "2"]
    np.testing.assert_array_equal(X[0, 0], [1, np.nan, 3, np.nan])
    np.testing.assert_array_equal(X[1, 0], [4, np.nan, 6, 7])
    with pytest.raises(
        ValueError, match=r"m\.ts: .*shortest 3 \(line 5\) and longest 4 \(line 6\)"
    ):
        read(tmp_path / "m.ts")

    arff = (
        "% comment\n@relation mv\n@attribute series relational\n"
        "  @attribute t0 numeric\n  @attribute t1 numeric\n  @attribute t2 numeric\n"
        "@end series\n@attribute class {up,down}\n@data\n"
        "'1,2,3\\n4,?,6',up\n\"0.5,0.25,-1e2\\n7,8,9\",'down'\n"
    )
    X, y = read(write(tmp_path, "mv.arff", arff))
    assert X.shape == (2, 2, 3) and list(y) == ["up", "down"]
    np.testing.assert_array_equal(X[0], [[1, 2, 3], [4, np.nan, 6]])
    np.testing.assert_array_equal(X[1], [[0.5, 0.25, -100], [7, 8, 9]])
    with pytest.raises(DataFormatError, match=r"rag\.arff, line 10: .*different lengths"):
        read(write(tmp_path, "rag.arff", arff.replace("4,?,6", "4,6")))
    tsv = read(write(tmp_path, "u.tsv", "3\t1\t?\t2\n1\tNaN\t5\t6\n"))
    np.testing.assert_array_equal(tsv[0][:, 0], [[1, np.nan, 2], [np.nan, 5, 6]])


# ---------------------------------------------------------------- download over real HTTP


def gunpoint_zip(ucr_dir: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in ("TRAIN", "TEST"):
            src = ucr_dir / "GunPoint" / f"GunPoint_{split}.ts"
            zf.write(src, f"GunPoint/GunPoint_{split}.ts")  # inside a subfolder, as some do
    return buf.getvalue()


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.path.startswith("/Broken"):
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(ucr_dir: Path):
    data = gunpoint_zip(ucr_dir)
    Handler.files = {"/GunPoint.zip": data, "/Broken.zip": data}
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_download_success_then_cache(
    server, ucr_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TSCAM_WIDGET_DATA", raising=False)
    srv, url = server
    cache = tmp_path / "cache"
    X, y = load_ucr("GunPoint", "both", cache_dir=cache, base_url=url, progress=True)
    Xtr, ytr = read(ucr_dir / "GunPoint" / "GunPoint_TRAIN.ts")
    Xte, yte = read(ucr_dir / "GunPoint" / "GunPoint_TEST.ts")
    np.testing.assert_array_equal(X, np.concatenate([Xtr, Xte]))
    assert list(y) == list(ytr) + list(yte)
    assert sorted(p.name for p in cache.iterdir()) == ["GunPoint"]
    srv.shutdown()  # the second call must not need the server
    X2, y2 = load_ucr("GunPoint", "test", cache_dir=cache, base_url=url, progress=False)
    np.testing.assert_array_equal(X2, Xte)


def test_download_errors_leave_nothing(
    server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TSCAM_WIDGET_DATA", raising=False)
    _, url = server
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=rf"{url}/Missing\.zip: HTTP 404.*TSCAM_WIDGET_DATA"):
        load_ucr("Missing", cache_dir=cache, base_url=url, progress=False)
    assert list(cache.iterdir()) == []
    with pytest.raises(DownloadError, match=rf"{url}/Broken\.zip.*(incomplete|broke off)"):
        load_ucr("Broken", cache_dir=cache, base_url=url, progress=False)
    assert list(cache.iterdir()) == []
    with socket.socket() as s:  # a port nobody listens on: offline
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(DownloadError, match=rf"{dead}/GunPoint\.zip.*data_dir"):
        load_ucr("GunPoint", cache_dir=cache, base_url=dead, progress=False)
    assert list(cache.iterdir()) == []


def test_data_package_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, tscam_widget.data; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- synthetic


def test_synthetic_deterministic_shapes_balanced() -> None:
    X, y, m = synthetic(n=302, length=128, n_classes=4, seed=0)
    X2, y2, m2 = synthetic(n=302, length=128, n_classes=4, seed=0)
    X3, _, _ = synthetic(n=302, length=128, n_classes=4, seed=1)
    assert X.shape == (302, 1, 128) and X.dtype == np.float32
    assert m.shape == (302, 128) and m.dtype == bool and y.shape == (302,) and y.dtype.kind == "U"
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_array_equal(m, m2)
    assert not np.allclose(X, X3)
    names, counts = np.unique(y, return_counts=True)
    assert dict(zip(names, counts)) == {"bump": 76, "dip": 76, "square": 75, "chirp": 75}
    assert synthetic_classes(4) == ["bump", "dip", "square", "chirp"]
    assert synthetic_classes(9)[7:] == ["bump x2", "dip x2"]
    Xtr, ytr, mtr, Xte, yte, mte = synthetic_split(n_train=40, n_test=20)
    np.testing.assert_array_equal(Xtr, synthetic(40, seed=0)[0])
    np.testing.assert_array_equal(Xte, synthetic(20, seed=1)[0])
    for kwargs, pattern in (
        ({"n_classes": 1}, r"n_classes: expected an int in \[2, 21\], got 1"),
        ({"length": 64, "motif_length": 65}, r"motif_length: expected at most length=64, got 65"),
        ({"seed": -1}, r"seed: expected a non-negative int, got -1"),
        ({"noise": -0.1}, r"noise: expected a non-negative number"),
    ):
        with pytest.raises(ValueError, match=pattern):
            synthetic(**kwargs)


def test_synthetic_mask_marks_the_motif() -> None:
    X, y, m = synthetic(n=400, seed=3)
    # Hand-computed mask lengths for motif_length 32, u = (j + 0.5) / 32:
    # square on u in [0.2, 0.8) -> j = 6..25 (20 samples); bump |u - .5| < .15 sqrt(2 ln 20)
    # -> j = 4..27 (24 samples).
    assert set(m[y == "square"].sum(1)) == {20}
    assert set(m[y == "bump"].sum(1)) == {24} and set(m[y == "dip"].sum(1)) == {24}
    # masks are one contiguous run per sample
    assert (np.diff(m.astype(int), axis=1) == 1).sum() + m[:, 0].sum() == len(m)

    # class-averaged signal aligned on the mask centre shows the hand-known shape
    def aligned(cls: str, half: int = 40) -> np.ndarray:
        rows = []
        for i in np.flatnonzero(y == cls):
            centre = int(np.flatnonzero(m[i]).mean().round())
            if half <= centre < 128 - half:
                rows.append(X[i, 0, centre - half : centre + half])
        return np.mean(rows, axis=0)

    bump, dip, square = aligned("bump"), aligned("dip"), aligned("square")
    assert 0.85 < bump[40] < 1.15 and -1.15 < dip[40] < -0.85
    assert 0.85 < square[40 - 8 : 40 + 8].mean() < 1.15
    for avg in (bump, dip, square):  # far from the motif: background averages out
        assert np.abs(avg[:20]).mean() < 0.12 and np.abs(avg[-20:]).mean() < 0.12

    # deviation from the local background level (median of the 6 samples either side)
    dev_in, dev_out = [], []
    for i in range(len(X)):
        idx = np.flatnonzero(m[i])
        lo, hi = idx[0], idx[-1] + 1
        left, right = X[i, 0, max(0, lo - 6) : lo], X[i, 0, hi : hi + 6]
        base = np.median(np.concatenate([left, right]))
        dev_in.append(np.abs(X[i, 0, lo:hi] - base).mean())
        dev_out.append(np.abs(np.concatenate([left, right]) - base).mean())
    assert np.mean(dev_in) > 3 * np.mean(dev_out)


def test_synthetic_background_same_for_all_classes_and_one_channel() -> None:
    # amplitude 0 with the same seed draws the same background: the difference is the motif
    X, y, m = synthetic(n=240, n_channels=3, seed=5)
    B, yb, mb = synthetic(n=240, n_channels=3, seed=5, amplitude=0.0)
    np.testing.assert_array_equal(y, yb)
    motif = X - B
    touched = np.abs(motif).max(axis=2) > 1e-6  # [N, C]
    assert (touched.sum(axis=1) == 1).all()  # exactly one channel per sample
    assert set(np.argmax(touched, axis=1)) == {0, 1, 2}  # chosen at random per sample
    ch = np.argmax(touched, axis=1)
    motif1 = motif[np.arange(240), ch]  # [N, T]
    # outside the mask only the sub-5 % tails (at most 0.05 * 1.2); inside, the motif itself
    assert np.abs(motif1[~m]).max() <= 0.0601
    assert np.abs(motif1[m]).mean() > 0.4
    # the background carries no class information: per-class mean/std agree
    stats = [(B[y == c].mean(), B[y == c].std()) for c in synthetic_classes(4)]
    means, stds = np.array(stats).T
    assert np.ptp(means) < 0.05 and np.ptp(stds) / stds.mean() < 0.1

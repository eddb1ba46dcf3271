"""Data loaders, HybridSN split, surrogate scenes and downloads (no PyTorch needed)."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
scipy_io = pytest.importorskip("scipy.io")

from pimsim.snn import data as D

SHARED = Path(os.environ.get("PIMSIM_SHARED_DATA",
                             Path(__file__).resolve().parents[1].parent / "shared/data/hsi"))
needs_shared = pytest.mark.skipif(not (SHARED / "Indian_pines_gt.mat").is_file(),
                                  reason="shared ground-truth maps absent")


@needs_shared
@pytest.mark.parametrize("name,train,test", [
    ("indian_pines", 3074, 7175), ("pavia_university", 12832, 29944), ("salinas", 16238, 37891)])
def test_hybridsn_split_counts_on_real_ground_truth(name, train, test):
    spec = D.DATASETS[name]
    gt = D.load_mat_array(SHARED / spec.gt.name, spec.gt)
    coords, labels = D.labelled_pixels(gt)
    tr, te = D.hybridsn_split(labels)
    assert (tr.size, te.size) == (train, test)
    assert np.intersect1d(tr, te).size == 0
    # stratified: every class's train share is 30 % within one pixel
    for c in np.unique(labels):
        n_c = np.sum(labels == c)
        assert abs(np.sum(labels[tr] == c) - 0.3 * n_c) <= 1
    assert labels.min() == 0 and labels.max() == spec.classes - 1
    assert np.all(gt[coords[:, 0], coords[:, 1]] > 0)


@needs_shared
def test_uint8_indian_pines_loads_with_provenance():
    scene = D.load_scene("indian_pines_uint8", SHARED)
    assert scene.cube.shape == (145, 145, 200)
    assert not scene.synthetic
    assert "LOSSY" in scene.provenance["data"] and "hszhaohs/SSGA" in scene.provenance["data"]
    assert scene.provenance["cube_sha256"].startswith("8bfb849c")


@needs_shared
def test_surrogate_scene_and_preprocessing(tmp_path):
    path = D.synth_scene("indian_pines", tmp_path, gt_dir=str(SHARED), seed=3)
    scene = D.load_scene("indian_pines_surrogate", tmp_path)
    assert scene.synthetic and "synthetic" in scene.provenance["data"]
    assert scene.cube.shape == (145, 145, 200)  # the real band count
    lo, hi = D.DATASETS["indian_pines"].value_range
    assert lo <= scene.cube.min() and scene.cube.max() <= hi
    # classes differ: class means are further apart than the within-class spread of some pairs
    gt = scene.gt
    m1 = scene.cube[gt == 2].mean(0)
    m2 = scene.cube[gt == 11].mean(0)
    assert np.abs(m1 - m2).max() > 50
    # spatial texture: neighbouring pixels correlated within a band
    b = scene.cube[:, :, 100]
    r = np.corrcoef(b[:, :-1].ravel(), b[:, 1:].ravel())[0, 1]
    assert r > 0.3
    # deterministic for a seed
    again = D.synth_cube(D.DATASETS["indian_pines"], gt, 200, seed=3)
    assert np.array_equal(again, scene.cube.astype(again.dtype))
    data = D.preprocess(scene, components=15, window=9)
    assert data.padded.dtype == np.uint8 and data.padded.shape == (153, 153, 15)
    w = data.windows(data.train_idx[:4])
    assert w.shape == (4, 1, 15, 9, 9)
    # the corner pixel's window holds the padding value at its border
    r0 = int(np.argmin(data.coords[:, 0]))
    row = int(data.coords[r0, 0])
    assert row < 4  # Indian Pines has labels within 4 rows of the top edge
    win = data.windows(np.array([r0]))[0, 0]
    assert np.all(win[:, : 4 - row, :] == data.pad_value)
    assert not np.all(win[:, 4 - row:, :] == data.pad_value)
    # real = q * scale reproduces whitened PCA up to half a step inside the clip range
    assert 0 < data.input_scale < 1 and 0 <= data.pad_value <= 255
    assert path.name == "indian_pines_surrogate.npz"


def test_unknown_dataset_is_one_line_error():
    with pytest.raises(D.DataError, match="unknown dataset 'moon'") as e:
        D.get_spec("moon")
    assert "\n" not in str(e.value)
    with pytest.raises(D.DataError):
        D.get_spec("indian_pines_uint8_surrogate")


def test_mat_without_key_and_wrong_shape(tmp_path):
    spec = D.DATASETS["indian_pines"]
    f = tmp_path / spec.cube.name
    scipy_io.savemat(f, {"something_else": np.zeros((2, 2))})
    with pytest.raises(D.DataError, match="indian_pines_corrected: missing") as e:
        D.load_mat_array(f, spec.cube)
    assert str(f) in str(e.value) and "\n" not in str(e.value)
    scipy_io.savemat(f, {"indian_pines_corrected": np.zeros((10, 10, 200), np.int16)})
    with pytest.raises(D.DataError, match=r"expected shape \(145, 145, 200\)"):
        D.load_mat_array(f, spec.cube)
    f.write_bytes(b"not a mat file at all")
    with pytest.raises(D.DataError, match="not a readable MATLAB file"):
        D.load_mat_array(f, spec.cube)


@needs_shared
def test_cube_not_matching_ground_truth(tmp_path):
    spec = D.DATASETS["indian_pines"]
    shutil.copy(SHARED / spec.gt.name, tmp_path / spec.gt.name)
    bad = D.FileSpec(spec.cube.name, spec.cube.key, (145, 144, 200), spec.cube.url)
    scipy_io.savemat(tmp_path / spec.cube.name,
                     {spec.cube.key: np.zeros((145, 144, 200), np.int16)})
    # through the registry: shape check names the key
    with pytest.raises(D.DataError, match="indian_pines_corrected: expected shape"):
        D.load_scene("indian_pines", tmp_path)
    # a surrogate whose cube and gt disagree is refused too
    np.savez(tmp_path / "salinas_surrogate.npz", cube=np.zeros((4, 4, 204), np.int16),
             gt=np.zeros((512, 217), np.uint8), provenance=np.frombuffer(b"{}", np.uint8))
    with pytest.raises(D.DataError, match="does not match ground truth"):
        D.load_scene("salinas_surrogate", tmp_path)
    assert bad.shape != spec.cube.shape


@needs_shared
def test_checksum_mismatch(tmp_path):
    spec = D.DATASETS["indian_pines"]
    raw = bytearray((SHARED / spec.gt.name).read_bytes())
    raw[-1] ^= 0xFF
    (tmp_path / spec.gt.name).write_bytes(bytes(raw))
    with pytest.raises(D.DataError, match="sha256 .* does not match"):
        D.load_mat_array(tmp_path / spec.gt.name, spec.gt)


def test_stratified_subset_counts():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    idx = np.arange(labels.size)
    sub = D.stratified_subset(idx, labels, count=20, seed=1)
    assert sub.size == 20 and np.unique(labels[sub]).size == 4
    assert np.array_equal(sub, D.stratified_subset(idx, labels, count=20, seed=1))
    frac = D.stratified_subset(idx, labels, fraction=0.1)
    assert list(np.bincount(labels[frac])) == [5, 3, 2, 1]  # at least one of each
    with pytest.raises(D.DataError, match="asked for 101 samples but only 100"):
        D.stratified_subset(idx, labels, count=101)


# ----------------------------------------------------------------------------- download


class _Server:
    """A local HTTP server with Range support that can cut the first response short."""

    def __init__(self, root: Path, truncate_first: bool = False):
        self.root, self.truncate = root, truncate_first
        self.ranges: list[str | None] = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                f = outer.root / self.path.lstrip("/")
                if not f.is_file():
                    self.send_error(404)
                    return
                body = f.read_bytes()
                rng = self.headers.get("Range")
                outer.ranges.append(rng)
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                self.send_response(206 if rng else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if outer.truncate:
                    outer.truncate = False
                    self.wfile.write(body[start:start + (len(body) - start) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@needs_shared
def test_fetch_resumes_interrupted_download_and_verifies(tmp_path):
    srv_dir = tmp_path / "srv"
    srv_dir.mkdir()
    spec = D.DATASETS["indian_pines"]
    shutil.copy(SHARED / spec.gt.name, srv_dir / spec.gt.name)
    cube = np.arange(145 * 145 * 200, dtype=np.int64).reshape(145, 145, 200) % 9000
    scipy_io.savemat(srv_dir / spec.cube.name, {spec.cube.key: cube.astype(np.int16)})
    srv = _Server(srv_dir, truncate_first=True)
    out = tmp_path / "data"
    try:
        with pytest.raises(D.DataError, match="interrupted") as e:
            D.fetch_dataset("indian_pines", out, base_url=srv.url, progress=False)
        assert "\n" not in str(e.value)
        part = out / (spec.gt.name + ".part")
        have = part.stat().st_size
        assert 0 < have < (srv_dir / spec.gt.name).stat().st_size
        files = D.fetch_dataset("indian_pines", out, base_url=srv.url, progress=False)
        assert [p.name for p in files] == [spec.gt.name, spec.cube.name]
        assert srv.ranges[:2] == [None, f"bytes={have}-"]  # resumed, not restarted
        assert D.sha256_file(out / spec.gt.name) == spec.gt.sha256
        assert not part.exists()
        scene = D.load_scene("indian_pines", out)
        assert scene.cube.shape == (145, 145, 200) and not scene.synthetic
        # a second fetch keeps the verified files and downloads nothing
        n = len(srv.ranges)
        D.fetch_dataset("indian_pines", out, base_url=srv.url, progress=False)
        assert len(srv.ranges) == n
    finally:
        srv.close()


@needs_shared
def test_fetch_rejects_checksum_mismatch_and_missing_file(tmp_path):
    srv_dir = tmp_path / "srv"
    srv_dir.mkdir()
    spec = D.DATASETS["salinas"]
    raw = bytearray((SHARED / spec.gt.name).read_bytes())
    raw[200] ^= 0x01
    (srv_dir / spec.gt.name).write_bytes(bytes(raw))
    srv = _Server(srv_dir)
    try:
        with pytest.raises(D.DataError, match="sha256"):
            D.fetch_dataset("salinas", tmp_path / "d", base_url=srv.url, progress=False)
        assert (tmp_path / "d" / (spec.gt.name + ".bad")).is_file()
        (srv_dir / spec.gt.name).unlink()
        with pytest.raises(D.DataError, match="HTTP 404"):
            D.fetch_dataset("salinas", tmp_path / "d", base_url=srv.url, progress=False)
    finally:
        srv.close()
    with pytest.raises(D.DataError, match="built locally"):
        D.fetch_dataset("salinas_surrogate", tmp_path)

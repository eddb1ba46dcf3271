"""Hyperspectral scenes: loaders, download, surrogate scenes and HybridSN preprocessing.

No PyTorch here: this module needs NumPy, SciPy (``scipy.io.loadmat``) and scikit-learn (PCA,
stratified split). Sources of the data and of every number below: the ``DATASETS`` table of this
module (URLs, checksums, value ranges) and docs/training.md (HybridSN preprocessing).

Preprocessing, exactly as HybridSN (Roy et al., IEEE GRSL 2020):

1. whitened PCA fit on all H*W pixels of the scene (30 components for Indian Pines, 15 for
   Pavia University and Salinas): ``sklearn.decomposition.PCA(n, whiten=True).fit_transform``;
2. 25x25 windows centred on every labelled pixel, zero padding (in PCA space) at the border;
3. label-0 pixels dropped, labels shifted to 0..classes-1, pixels in row-major order;
4. ``train_test_split(idx, test_size=0.7, random_state=345, stratify=y)``.

pimsim adds one step, because trace format v1 stores the first layer's input as unsigned
integers with ``real = input * input_scale``: the whitened PCA features ``z`` are clipped to
their [0.01 %, 99.99 %] quantiles ``[lo, hi]``, shifted by ``-lo`` and quantized to
``input_bits`` bits: ``q = round((clip(z, lo, hi) - lo) / s)``, ``s = (hi - lo) / (2^bits - 1)``.
The network input is ``x = q * s = z - lo`` (up to rounding). HybridSN's zero padding (z = 0)
becomes the constant ``q_pad = round(-lo / s)``. A constant shift of every input (padding
included) only adds a constant per output channel to the first (valid) convolution, so the
network is HybridSN's with a fixed first-layer offset. Every model (CNN and SNN) is trained and
evaluated on this same quantized input, so the trace's input reproduces the SNN exactly.

Windows are never materialised for the whole scene: :meth:`HSIData.windows` cuts them per batch
from the padded uint8 cube (a strided view).
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pimsim.errors import PimsimError


class DataError(PimsimError):
    """A scene file is missing, corrupt, or inconsistent with its ground truth."""


#: Default base URL of the GIC page "Hyperspectral Remote Sensing Scenes" (UPV/EHU).
GIC_BASE = "https://www.ehu.eus/ccwintco/uploads"
#: Environment variable that overrides every download's base URL (files are then fetched as
#: ``<base>/<local file name>``), e.g. a mirror or a local test server.
BASE_URL_ENV = "PIMSIM_DATA_BASE_URL"
#: Environment variable naming the shared ground-truth directory.
SHARED_ENV = "PIMSIM_SHARED_DATA"


@dataclass(frozen=True)
class FileSpec:
    """One published .mat file: local name, in-file key, shape, dtype hint, URL, sha256."""

    name: str
    key: str
    shape: tuple[int, ...]
    url: str
    sha256: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """A scene: its cube and ground-truth files and HybridSN preprocessing parameters."""

    name: str
    cube: FileSpec
    gt: FileSpec
    classes: int
    pca_components: int
    description: str
    #: approximate value range of the published cube (used for surrogate scenes)
    value_range: tuple[float, float]
    cube_dtype: str


_GT = {
    "indian_pines": FileSpec(
        "Indian_pines_gt.mat", "indian_pines_gt", (145, 145), f"{GIC_BASE}/c/c4/Indian_pines_gt.mat",
        "65c4687a8ab04f6da4789799bc3bc4f6e88bccac3ed6a2e6ae367e5e6b9e429c",
    ),
    "pavia_university": FileSpec(
        "PaviaU_gt.mat", "paviaU_gt", (610, 340), f"{GIC_BASE}/5/50/PaviaU_gt.mat",
        "23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829",
    ),
    "salinas": FileSpec(
        "Salinas_gt.mat", "salinas_gt", (512, 217), f"{GIC_BASE}/f/fa/Salinas_gt.mat",
        "ecfab4d31ef5553f097943235d8ea502038eb4a2067b2ad10b33e37c949955e2",
    ),
}

DATASETS: dict[str, DatasetSpec] = {
    "indian_pines": DatasetSpec(
        "indian_pines",
        FileSpec("Indian_pines_corrected.mat", "indian_pines_corrected", (145, 145, 200),
                 f"{GIC_BASE}/6/67/Indian_pines_corrected.mat"),
        _GT["indian_pines"], 16, 30,
        "real AVIRIS scene, Indian Pine Test Site 3 (12 June 1992), 200 water-absorption-corrected "
        "bands, int16 radiance; GIC/UPV-EHU copy (Baumgardner, Biehl & Landgrebe 2015, Purdue)",
        (955.0, 9604.0), "int16",
    ),
    "indian_pines_uint8": DatasetSpec(
        "indian_pines_uint8",
        FileSpec("Indian_pines_corrected_uint8_SSGA.mat", "data_M", (145, 145, 200),
                 "https://github.com/hszhaohs/SSGA/raw/f334299d149650303d8f22746bbbeebd819fc8f0/"
                 "data/IP_200_M.mat",
                 "8bfb849c31ce3697b5317447064a17f146ae93f1849c07b7e9e5bbd79966315e"),
        _GT["indian_pines"], 16, 30,
        "real AVIRIS Indian Pines data (200 corrected bands), but a LOSSY copy: each band min-max "
        "stretched to 0..255 (uint8) by a third party; GitHub hszhaohs/SSGA data/IP_200_M.mat, "
        "blob 4d7ce77f6571a911c8c0d0e99086d066473374ae, commit "
        "f334299d149650303d8f22746bbbeebd819fc8f0, sha256 8bfb849c...6315e; not comparable "
        "with published numbers on the int16 cube",
        (0.0, 255.0), "uint8",
    ),
    "pavia_university": DatasetSpec(
        "pavia_university",
        FileSpec("PaviaU.mat", "paviaU", (610, 340, 103), f"{GIC_BASE}/e/ee/PaviaU.mat"),
        _GT["pavia_university"], 9, 15,
        "real ROSIS scene, University of Pavia (P. Gamba, Univ. of Pavia); GIC/UPV-EHU copy",
        (0.0, 8000.0), "uint16",
    ),
    "salinas": DatasetSpec(
        "salinas",
        FileSpec("Salinas_corrected.mat", "salinas_corrected", (512, 217, 204),
                 f"{GIC_BASE}/a/a3/Salinas_corrected.mat"),
        _GT["salinas"], 16, 15,
        "real AVIRIS scene, Salinas Valley CA (NASA/JPL), 204 corrected bands; GIC/UPV-EHU copy",
        (0.0, 9207.0), "int16",
    ),
}

#: scenes a surrogate can be built like (their ground truth is real)
SURROGATE_OF = ("indian_pines", "pavia_university", "salinas")


def dataset_names() -> list[str]:
    """Every dataset name :func:`load_scene` accepts (real scenes and their surrogates)."""
    return [*DATASETS, *(f"{s}_surrogate" for s in SURROGATE_OF)]


def get_spec(name: str) -> DatasetSpec:
    """The spec of a real dataset, or of the real scene a ``<scene>_surrogate`` imitates."""
    base = name.removesuffix("_surrogate")
    if base not in DATASETS or (name != base and base not in SURROGATE_OF):
        raise DataError(f"unknown dataset {name!r}; expected one of {', '.join(dataset_names())}",
                        key="dataset")
    return DATASETS[base]


def shared_data_dir() -> Path:
    """The shared ground-truth directory: $PIMSIM_SHARED_DATA or <repo>/../shared/data/hsi."""
    env = os.environ.get(SHARED_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2].parent / "shared" / "data" / "hsi"


# ----------------------------------------------------------------------------- file checks


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_mat_array(path: str | os.PathLike[str], spec: FileSpec, *,
                   check_sha: bool = True) -> np.ndarray:
    """Load ``spec.key`` from a MATLAB file and check its shape (and sha256 when known).

    Raises :class:`DataError` (one line, naming file and key) on a missing file, unreadable
    file, checksum mismatch, missing key or wrong shape.
    """
    from scipy.io import loadmat

    file = str(path)
    if not os.path.isfile(file):
        raise DataError(f"file not found (expected the published {spec.name}; try "
                        f"'pimsim data fetch')", file=file)
    if check_sha and spec.sha256:
        got = sha256_file(file)
        if got != spec.sha256:
            raise DataError(f"sha256 {got} does not match the published file's {spec.sha256}",
                            file=file, key="sha256")
    try:
        mat = loadmat(file)
    except Exception as exc:  # noqa: BLE001 - scipy raises many types for corrupt files
        raise DataError(f"not a readable MATLAB file: {type(exc).__name__}: {exc}",
                        file=file) from None
    if spec.key not in mat:
        keys = [k for k in mat if not k.startswith("__")]
        raise DataError(f"missing; the file holds {keys}", file=file, key=spec.key)
    arr = np.asarray(mat[spec.key])
    if arr.shape != spec.shape:
        raise DataError(f"expected shape {spec.shape}, got {arr.shape}", file=file, key=spec.key)
    return arr


# ----------------------------------------------------------------------------- scenes


@dataclass
class Scene:
    """A scene in memory: cube (H, W, B) float32, ground truth (H, W) int64 and provenance."""

    name: str
    cube: np.ndarray
    gt: np.ndarray
    classes: int
    pca_components: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def synthetic(self) -> bool:
        d = str(self.provenance.get("data", "")).lower()
        return "synthetic" in d or "surrogate" in d


def _find_gt(spec: DatasetSpec, data_dir: Path) -> Path:
    for d in (data_dir, shared_data_dir()):
        p = Path(d) / spec.gt.name
        if p.is_file():
            return p
    return Path(data_dir) / spec.gt.name


def load_scene(name: str, data_dir: str | os.PathLike[str]) -> Scene:
    """Load a published scene (or a surrogate made by :func:`synth_scene`) from ``data_dir``.

    The ground truth is looked up in ``data_dir`` and then in the shared directory. Cube and
    ground truth must agree in H x W.
    """
    spec = get_spec(name)
    data_dir = Path(data_dir)
    if name.endswith("_surrogate"):
        file = data_dir / f"{name}.npz"
        if not file.is_file():
            raise DataError(f"file not found; make it with 'pimsim data synth --like {spec.name} "
                            f"--dir {data_dir}'", file=str(file))
        try:
            with np.load(file, allow_pickle=False) as z:
                cube, gt = z["cube"], z["gt"]
                prov = json.loads(z["provenance"].tobytes().decode())
        except KeyError as exc:
            raise DataError("missing array", file=str(file), key=str(exc).strip("'\"")) from None
        except (OSError, ValueError) as exc:
            raise DataError(f"not a readable surrogate scene: {exc}", file=str(file)) from None
        if gt.shape != spec.gt.shape or cube.shape[:2] != gt.shape:
            raise DataError(f"cube {cube.shape} does not match ground truth {gt.shape}",
                            file=str(file), key="cube")
        return Scene(name, cube.astype(np.float32), gt.astype(np.int64), spec.classes,
                     spec.pca_components, prov)
    cube_path = data_dir / spec.cube.name
    gt_path = _find_gt(spec, data_dir)
    gt = load_mat_array(gt_path, spec.gt)
    cube = load_mat_array(cube_path, spec.cube)
    if cube.shape[:2] != gt.shape:
        raise DataError(f"cube is {cube.shape[:2]} pixels but the ground truth is {gt.shape}",
                        file=str(cube_path), key=spec.cube.key)
    prov = {
        "data": spec.description,
        "cube_file": spec.cube.name,
        "cube_key": spec.cube.key,
        "cube_sha256": sha256_file(cube_path),
        "gt_file": spec.gt.name,
        "gt_sha256": sha256_file(gt_path),
    }
    return Scene(name, cube.astype(np.float32), gt.astype(np.int64), spec.classes,
                 spec.pca_components, prov)


# ----------------------------------------------------------------------------- download


def _atomic_write_bytes(target: Path, write) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def download(url: str, target: Path, *, progress: bool = True, timeout: float = 60.0,
             chunk: int = 1 << 16) -> Path:
    """Download ``url`` to ``target``, resuming from ``target.part`` with an HTTP Range request.

    The partial file survives an interruption; the next call asks for the remaining bytes
    (``Range: bytes=<size>-``) and appends them if the server answers 206, or starts over on
    200. Only a complete download is renamed to ``target``.
    """
    from tqdm import tqdm

    part = target.with_name(target.name + ".part")
    target.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "pimsim"})
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # already complete
            os.replace(part, target)
            return target
        raise DataError(f"download failed: HTTP {exc.code} {exc.reason} from {url}",
                        file=str(target)) from None
    except (urllib.error.URLError, OSError) as exc:
        raise DataError(f"download failed: {getattr(exc, 'reason', exc)} from {url}",
                        file=str(target)) from None
    with resp:
        resumed = resp.status == 206
        if not resumed:
            have = 0
        length = resp.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        mode = "ab" if resumed else "wb"
        with open(part, mode) as fh, tqdm(total=total, initial=have, unit="B", unit_scale=True,
                                          desc=target.name, disable=not progress) as bar:
            try:
                while True:
                    block = resp.read(chunk)
                    if not block:
                        break
                    fh.write(block)
                    bar.update(len(block))
            except (OSError, TimeoutError, http.client.HTTPException) as exc:
                fh.flush()
                raise DataError(f"download interrupted after {fh.tell()} bytes ({exc}); run the "
                                "command again to resume", file=str(part)) from None
        got = part.stat().st_size
        if total is not None and got < total:
            raise DataError(f"download interrupted: {got} of {total} bytes; run the command "
                            "again to resume", file=str(part))
    os.replace(part, target)
    return target


def fetch_dataset(name: str, directory: str | os.PathLike[str], *, base_url: str | None = None,
                  progress: bool = True) -> list[Path]:
    """Download a scene's cube and ground truth into ``directory`` and verify them.

    ``base_url`` (or $PIMSIM_DATA_BASE_URL) replaces the provider's URLs: each file is then
    fetched as ``<base_url>/<file name>``. Files already present and valid are kept. Each file
    is checked for its MATLAB key, shape and (where known) sha256; a file that fails is moved
    aside to ``<name>.bad`` so the next run downloads it again.
    """
    if name.endswith("_surrogate"):
        raise DataError(f"{name} is built locally, not downloaded: use 'pimsim data synth'",
                        key="dataset")
    spec = get_spec(name)
    base_url = base_url or os.environ.get(BASE_URL_ENV)
    directory = Path(directory)
    out: list[Path] = []
    for fs in (spec.gt, spec.cube):
        target = directory / fs.name
        if target.is_file():
            try:
                load_mat_array(target, fs)
                out.append(target)
                continue
            except DataError:
                os.replace(target, target.with_name(target.name + ".bad"))
        url = f"{base_url.rstrip('/')}/{fs.name}" if base_url else fs.url
        download(url, target, progress=progress)
        try:
            load_mat_array(target, fs)
        except DataError:
            os.replace(target, target.with_name(target.name + ".bad"))
            raise
        out.append(target)
    return out


# ----------------------------------------------------------------------------- surrogate


def _gauss_bumps(lam: np.ndarray, rng: np.random.Generator, k: int, amp: float) -> np.ndarray:
    mu = rng.uniform(0.0, 1.0, k)
    sig = rng.uniform(0.03, 0.15, k)
    a = rng.normal(0.0, amp, k)
    return (a[:, None] * np.exp(-0.5 * ((lam[None, :] - mu[:, None]) / sig[:, None]) ** 2)).sum(0)


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return (f - f.mean()) / (f.std() + 1e-12)


def synth_cube(spec: DatasetSpec, gt: np.ndarray, bands: int, *, seed: int = 0) -> np.ndarray:
    """A surrogate cube on a real ground-truth map (documented generative model).

    With wavelength index ``l = b / (B - 1)`` in [0, 1], for class c (label 0 = background):

    * base signature ``s0(l) = 0.45 + 0.25 l + sum_k a_k exp(-(l - mu_k)^2 / 2 sig_k^2)``
      (6 bumps, a_k ~ N(0, 0.12), sig_k ~ U(0.03, 0.15)): smooth, vegetation/soil-like;
    * class signature ``s_c = s0 + d_c``, ``d_c`` = 4 bumps with a ~ N(0, 0.06) (classes
      differ by smooth, partly overlapping features);
    * within-class variability: 3 smooth directions ``e_cj`` (bumps, a ~ N(0, 0.05)) with
      per-pixel coefficients ``alpha_j = 0.6 F_j + 0.8 eps`` (F_j a Gaussian-filtered random
      field, sigma 3 px, unit variance; eps white N(0, 1)), and a brightness
      ``g = exp(0.08 G)`` with G a smooth field (sigma 2 px): spatial texture;
    * band-correlated noise: AR(1) across bands, ``n_b = 0.95 n_{b-1} + sqrt(1 - 0.95^2) w_b``,
      std 0.01;
    * background pixels mix two random background signatures with a smooth weight field.

    ``x = g (s_c + sum_j alpha_j e_cj) + n`` is then mapped linearly onto the published cube's
    value range ``[lo, hi]`` (x in [0, 1] -> lo + (hi - lo) x), clipped and rounded to the
    cube's integer dtype. Deterministic for a seed.
    """
    rng = np.random.default_rng(seed)
    h, w = gt.shape
    lam = np.linspace(0.0, 1.0, bands)
    s0 = 0.45 + 0.25 * lam + _gauss_bumps(lam, rng, 6, 0.12)
    classes = int(gt.max())
    sig = np.stack([s0 + _gauss_bumps(lam, rng, 4, 0.06) for _ in range(classes + 2)])
    dirs = np.stack([[_gauss_bumps(lam, rng, 3, 0.05) for _ in range(3)]
                     for _ in range(classes + 1)])  # (C+1, 3, B)
    alpha = np.stack([0.6 * _smooth_field(rng, (h, w), 3.0) + 0.8 * rng.standard_normal((h, w))
                      for _ in range(3)], axis=-1)  # (H, W, 3)
    g = np.exp(0.08 * _smooth_field(rng, (h, w), 2.0))
    mix = 1.0 / (1.0 + np.exp(-2.0 * _smooth_field(rng, (h, w), 6.0)))
    base = sig[gt]  # (H, W, B); label 0 -> sig[0]
    bg = gt == 0
    base[bg] = mix[bg, None] * sig[0] + (1.0 - mix[bg, None]) * sig[classes + 1]
    var = np.einsum("hwj,hwjb->hwb", alpha, dirs[gt])
    x = g[..., None] * (base + var)
    rho = 0.95
    noise = rng.standard_normal((h, w, bands))
    for b in range(1, bands):
        noise[..., b] = rho * noise[..., b - 1] + np.sqrt(1.0 - rho**2) * noise[..., b]
    x += 0.01 * noise
    lo, hi = spec.value_range
    v = lo + (hi - lo) * np.clip(x, 0.0, 1.0)
    return np.rint(v).astype(spec.cube_dtype)


def synth_scene(like: str, directory: str | os.PathLike[str], *, gt_dir: str | None = None,
                seed: int = 0) -> Path:
    """Write ``<like>_surrogate.npz`` (cube, gt, provenance JSON) into ``directory``, atomically.

    The ground truth is the real, checksum-verified map, looked up in ``gt_dir``, ``directory``
    and the shared data directory; the band count is the published cube's (200 IP, 103 PU,
    204 SA).
    """
    if like not in SURROGATE_OF:
        raise DataError(f"unknown scene {like!r}; expected one of {', '.join(SURROGATE_OF)}",
                        key="like")
    spec = DATASETS[like]
    cands = [Path(d) / spec.gt.name for d in (gt_dir, directory) if d] + [
        shared_data_dir() / spec.gt.name]
    gt_path = next((p for p in cands if p.is_file()), cands[0])
    gt = load_mat_array(gt_path, spec.gt).astype(np.int64)
    bands = spec.cube.shape[2]
    cube = synth_cube(spec, gt, bands, seed=seed)
    prov = {
        "data": f"synthetic surrogate scene like {like}: the real ground-truth map "
                f"({spec.gt.name}, sha256 {spec.gt.sha256[:12]}...) with per-class spectra from "
                f"pimsim's generative model (pimsim.snn.data.synth_cube, seed {seed}), {bands} "
                f"bands, value range {spec.value_range}; NOT real {like} spectra",
        "like": like,
        "seed": seed,
        "gt_file": spec.gt.name,
        "gt_sha256": sha256_file(gt_path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target = Path(directory) / f"{like}_surrogate.npz"
    prov_bytes = np.frombuffer(json.dumps(prov).encode(), dtype=np.uint8)
    _atomic_write_bytes(target, lambda fh: np.savez_compressed(
        fh, cube=cube, gt=gt.astype(np.uint8), provenance=prov_bytes))
    return target


# ----------------------------------------------------------------------------- preprocessing


def labelled_pixels(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-major (r, c) coordinates of labelled pixels and their labels minus 1 (0-based)."""
    rows, cols = np.nonzero(gt)
    return np.stack([rows, cols], axis=1).astype(np.int64), gt[rows, cols].astype(np.int64) - 1


def hybridsn_split(labels: np.ndarray, *, test_size: float = 0.7,
                   random_state: int = 345) -> tuple[np.ndarray, np.ndarray]:
    """HybridSN's stratified split of the labelled pixels: (train indices, test indices)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(labels.size)
    tr, te = train_test_split(idx, test_size=test_size, random_state=random_state,
                              stratify=labels)
    return np.asarray(tr, dtype=np.int64), np.asarray(te, dtype=np.int64)


def stratified_subset(indices: np.ndarray, labels: np.ndarray, *, fraction: float | None = None,
                      count: int | None = None, seed: int = 0) -> np.ndarray:
    """A class-stratified subset of ``indices`` (labels given per index), order preserved.

    With ``fraction``: ``max(1, round(fraction * n_c))`` per class. With ``count``: per-class
    shares by largest remainder, at least one per class while count allows.
    """
    rng = np.random.default_rng(seed)
    lab = labels[indices]
    classes, counts = np.unique(lab, return_counts=True)
    if count is not None:
        if count > indices.size:
            raise DataError(f"asked for {count} samples but only {indices.size} are available",
                            key="samples")
        share = counts / counts.sum() * count
        take = np.floor(share).astype(int)
        if count >= classes.size:
            take = np.maximum(take, 1)
        while take.sum() > count:
            take[np.argmax(take)] -= 1
        order = np.argsort(-(share - np.floor(share)))
        i = 0
        while take.sum() < count:
            c = order[i % order.size]
            if take[c] < counts[c]:
                take[c] += 1
            i += 1
    else:
        f = 1.0 if fraction is None else float(fraction)
        take = np.minimum(counts, np.maximum(1, np.rint(f * counts).astype(int)))
    chosen = [rng.choice(indices[lab == c], size=int(k), replace=False)
              for c, k in zip(classes, take, strict=True) if k > 0]
    return np.sort(np.concatenate(chosen)) if chosen else indices[:0]


@dataclass
class HSIData:
    """A preprocessed scene: quantized, padded PCA cube and the HybridSN split.

    ``padded`` is uint8/uint16 (H + w - 1, W + w - 1, K); a window of pixel (r, c) is
    ``padded[r:r+w, c:c+w, :]`` transposed to (1, K, w, w) = (C, D, H, W). Real network input =
    ``window * input_scale``.
    """

    name: str
    classes: int
    components: int
    window: int
    input_bits: int
    input_scale: float
    pad_value: int
    padded: np.ndarray
    coords: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    test_idx: np.ndarray
    provenance: dict[str, Any]
    pca_explained: float

    @property
    def synthetic(self) -> bool:
        d = str(self.provenance.get("data", "")).lower()
        return "synthetic" in d or "surrogate" in d

    @property
    def in_shape(self) -> tuple[int, int, int, int]:
        return (1, self.components, self.window, self.window)

    def windows(self, idx: np.ndarray) -> np.ndarray:
        """Quantized input windows of labelled pixels ``idx``: (n, 1, K, w, w), integer."""
        w = self.window
        view = np.lib.stride_tricks.sliding_window_view(self.padded, (w, w), axis=(0, 1))
        rc = self.coords[np.asarray(idx)]
        return view[rc[:, 0], rc[:, 1]][:, None]  # (n, K, w, w) -> (n, 1, K, w, w)


def preprocess(scene: Scene, *, components: int | None = None, window: int = 25,
               input_bits: int = 8, clip_quantile: float = 1e-4) -> HSIData:
    """HybridSN preprocessing plus input quantization (module docstring has the equations)."""
    from sklearn.decomposition import PCA

    if window < 1 or window % 2 == 0:
        raise DataError(f"window must be a positive odd number, got {window}", key="window")
    k = components or scene.pca_components
    h, w, b = scene.cube.shape
    if not 1 <= k <= b:
        raise DataError(f"PCA components must be in [1, {b}], got {k}", key="components")
    flat = scene.cube.reshape(-1, b).astype(np.float64)
    try:  # exact eigendecomposition of the covariance (sklearn >= 1.5): same PCA, much faster
        pca = PCA(n_components=k, whiten=True, svd_solver="covariance_eigh", random_state=0)
        z = pca.fit_transform(flat)
    except ValueError:
        pca = PCA(n_components=k, whiten=True, svd_solver="full", random_state=0)
        z = pca.fit_transform(flat)
    z = z.reshape(h, w, k)
    lo, hi = np.quantile(z, [clip_quantile, 1.0 - clip_quantile])
    lo, hi = float(min(lo, 0.0)), float(max(hi, 0.0))
    levels = 2**input_bits - 1
    scale = (hi - lo) / levels
    dtype = np.uint8 if input_bits <= 8 else np.uint16
    q = np.rint((np.clip(z, lo, hi) - lo) / scale).astype(dtype)
    pad_value = round(-lo / scale)
    m = window // 2
    padded = np.pad(q, ((m, m), (m, m), (0, 0)), constant_values=pad_value)
    coords, labels = labelled_pixels(scene.gt)
    tr, te = hybridsn_split(labels)
    return HSIData(scene.name, scene.classes, k, window, input_bits, float(scale), pad_value,
                   np.ascontiguousarray(padded), coords, labels, tr, te, dict(scene.provenance),
                   float(pca.explained_variance_ratio_.sum()))

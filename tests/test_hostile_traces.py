"""Hostile traces (issue 10): every malformed trace is one line on stderr and exit status 2,
in bounded memory (a 2 GB address-space limit) and a few seconds.

Every case is built in tmp_path from a small valid trace (nothing is checked in): archive
damage (byte flips, unknown compression, encryption, a zip bomb, headers declaring 1 TB),
values the format forbids (non-finite or non-positive thresholds and scales, leaks outside
[0, 1], labels outside the class range), hostile JSON (deep nesting, huge numbers, NaN) and
counts whose arrays would not fit. Each runs through the CLI in a subprocess whose address
space is limited with RLIMIT_AS. A hypothesis test throws random damage at the reader in
process, and the statistics cache's bad entries are recomputed, never used.
"""

from __future__ import annotations

import json
import resource
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, conv3d, linear, write_trace
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pimsim.activity import LayerActivity, PimActivity
from pimsim.errors import TraceError
from pimsim.stats_cache import DiskStatsCache
from pimsim.trace import MAX_TRACE_BYTES, Trace, load_trace

LIMIT_AS = 2 * 2**30   # bytes of address space for the CLI subprocess
WALL_S = 20            # seconds a refusal may take
_MAIN = "import sys; sys.argv[0] = 'pimsim'; from pimsim.cli import main; main()"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))


def pimsim_limited(*args):
    """Run the CLI in a subprocess under the address-space limit: (code, stdout, stderr, s)."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", _MAIN, *map(str, args)], cwd=REPO, check=False,
                          preexec_fn=_limit_memory, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start


def assert_refused(path: Path, key: str, *needles: str) -> str:
    """`pimsim trace validate path` exits 2 with one line naming the file and (a key starting
    with) ``key``, no traceback, within WALL_S under LIMIT_AS."""
    code, _, err, wall = pimsim_limited("trace", "validate", path)
    lines = [x for x in err.splitlines() if x.strip()]
    assert code == 2, (code, err[-3000:])
    assert len(lines) == 1 and "Traceback" not in err, err[-3000:]
    line = lines[0]
    assert line.startswith(f"pimsim: error: {path}: {key}"), line
    for needle in needles:
        assert needle in line, line
    assert wall < WALL_S, wall
    return line


# ----------------------------------------------------------------------------- building cases


def _small_trace(path: Path) -> Path:
    layers = [conv3d("c0", (1, 4, 5, 5), 2, (3, 3, 3), first=True), linear("fc", 36, 3)]
    spikes = {"fc": np.random.default_rng(1).random((2, 2, 36)) < 0.3}
    return write_trace(path, layers, spikes, n=2, t=2)


@pytest.fixture()
def base(tmp_path) -> Path:
    return _small_trace(tmp_path / "base.npz")


def members(path: Path) -> dict[str, bytes]:
    """The archive's members (``.npy`` bytes) by zip name."""
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def data_offset(path: Path, name: str) -> tuple[zipfile.ZipInfo, int]:
    """A member's zip entry and where its raw (compressed) bytes start in the file."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        name_len, extra_len = struct.unpack("<26xHH", fh.read(30))
    return info, info.header_offset + 30 + name_len + extra_len


def npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    buf = BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                              "shape": shape})
    return buf.getvalue()


def meta_of(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return json.loads(z["meta"].tobytes())


def with_meta_text(src: Path, dst: Path, text: str, **arrays: np.ndarray) -> Path:
    """``src`` with its meta replaced by the JSON ``text`` (and arrays replaced by key)."""
    with np.load(src, allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    out.update({k.replace("__", "/"): v for k, v in arrays.items()})
    out["meta"] = np.frombuffer(text.encode(), np.uint8)
    np.savez_compressed(dst, **out)
    return dst


def with_meta(src: Path, dst: Path, change, literal: str | None = None) -> Path:
    """``src`` with ``change(meta)`` applied; the string "@@" in the JSON becomes ``literal``
    (a number JSON writers never emit, e.g. 1e999 or a 5,000-digit integer)."""
    meta = meta_of(src)
    change(meta)
    text = json.dumps(meta)
    if literal is not None:
        text = text.replace('"@@"', literal)
    return with_meta_text(src, dst, text)


def deflate(data: bytes) -> bytes:
    co = zlib.compressobj(6, zlib.DEFLATED, -15)
    return co.compress(data) + co.flush()


def zeros_stream(prefix: bytes, mib: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``mib`` MiB of zeros, ~1 KB per MiB (the block
    of a full flush repeated: a zip bomb built in milliseconds)."""
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = co.compress(prefix) + co.flush(zlib.Z_FULL_FLUSH)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = co.compress(bytes(2**20)) + co.flush(zlib.Z_FULL_FLUSH)
    return head + block * mib + co.flush()


def raw_zip(path: Path, entries: list[tuple[str, int, int, int, int, bytes]]) -> Path:
    """Write a zip by hand from (name, file size, CRC-32, method, flags, raw payload): what
    zipfile cannot write (declared sizes that lie, methods and flags it refuses)."""
    out, central = bytearray(), bytearray()
    for name, size, crc, method, flags, payload in entries:
        raw_name = name.encode()
        big = size >= 0xFFFFFFFF or len(payload) >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(payload)) if big else b""
        usize, csize = (0xFFFFFFFF, 0xFFFFFFFF) if big else (size, len(payload))
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, flags, method, 0, 0x21, crc, csize,
                           usize, len(raw_name), len(extra)) + raw_name + extra + payload
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, flags, method, 0, 0x21, crc,
                               csize, usize, len(raw_name), len(extra), 0, 0, 0, 0,
                               offset) + raw_name + extra
    at = len(out)
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries),
                                 len(central), at, 0)
    path.write_bytes(bytes(out))
    return path


def rebuilt(src: Path, dst: Path, **override) -> Path:
    """``src`` rewritten by :func:`raw_zip`; ``override`` maps a member (``/`` written ``__``,
    without ``.npy``) to a dict of entry fields to replace (size, crc, method, flags,
    payload)."""
    entries = []
    for name, data in members(src).items():
        entry = {"size": len(data), "crc": zlib.crc32(data), "method": 8, "flags": 0,
                 "payload": deflate(data)}
        entry.update(override.get(name.removesuffix(".npy").replace("/", "__"), {}))
        entries.append((name, entry["size"], entry["crc"], entry["method"], entry["flags"],
                        entry["payload"]))
    return raw_zip(dst, entries)


def _layer(i: int, key: str, value):
    def change(meta):
        meta["layers"][i][key] = value
    return change


def _top(key: str, value):
    def change(meta):
        meta[key] = value
    return change


def _nest(depth: int):
    def change(meta):
        deep: list = []
        for _ in range(depth):
            deep = [deep]
        meta["provenance"]["deep"] = deep
    return change


# ----------------------------------------------------------------------------- valid traces


def test_valid_traces_load_under_the_limit(base):
    for path, version in ((base, 2), (REPO / "traces" / "indian_pines.npz", 1)):
        code, out, err, wall = pimsim_limited("trace", "validate", path)
        assert code == 0 and f"valid pimsim trace v{version} " in out and not err.strip(), err
        assert wall < WALL_S


def test_valid_trace_reads_as_numpy_does(base):
    tr = load_trace(base)
    with np.load(base, allow_pickle=False) as z:
        assert tr.meta == json.loads(z["meta"].tobytes())
        np.testing.assert_array_equal(tr.input, z["input"])
        np.testing.assert_array_equal(tr.labels, z["labels"])
        for name, w in tr.weights.items():
            assert w.dtype == z[f"weights/{name}"].dtype
            np.testing.assert_array_equal(w, z[f"weights/{name}"])
        np.testing.assert_array_equal(tr.packed_spikes["fc"], z["spikes/fc"])


# ----------------------------------------------------------------------------- the archive


def test_byte_flip_in_compressed_member(base, tmp_path):
    """Flips inside the deflate stream of a member: zlib errors and CRC mismatches alike."""
    data = base.read_bytes()
    info, start = data_offset(base, "labels.npy")
    seen = set()
    for i in range(info.compress_size):
        bad = bytearray(data)
        bad[start + i] ^= 0x55
        p = tmp_path / f"flip{i}.npz"
        p.write_bytes(bytes(bad))
        with pytest.raises(TraceError) as exc:
            load_trace(p)
        assert exc.value.key == "labels" and "\n" not in str(exc.value)
        seen.add(exc.value.message.split(":")[0])
    # inflate errors and CRC mismatches, and headers the flip garbled
    assert "cannot be read (corrupt or truncated member)" in seen
    bad = bytearray(data)
    bad[start + info.compress_size // 2] ^= 0x55
    (tmp_path / "flip.npz").write_bytes(bytes(bad))
    assert_refused(tmp_path / "flip.npz", "labels", "corrupt")


def test_unsupported_compression_method(base, tmp_path):
    p = rebuilt(base, tmp_path / "lzma.npz", weights__fc={"method": 14})
    assert_refused(p, "weights/fc", "compression method 14", "deflate")
    p = rebuilt(base, tmp_path / "method99.npz", input={"method": 99})
    assert_refused(p, "input", "compression method 99")


def test_encrypted_member(base, tmp_path):
    p = rebuilt(base, tmp_path / "encrypted.npz", labels={"flags": 1})
    assert_refused(p, "labels", "encrypted")


def test_header_declaring_a_terabyte(base, tmp_path):
    """An .npy header saying 2^40 bytes over a member of a few hundred: nothing allocated."""
    data = npy_header("|u1", (2**40,)) + bytes(200)
    p = rebuilt(base, tmp_path / "tera.npz", input={"size": len(data), "crc": zlib.crc32(data),
                                                    "payload": deflate(data)})
    assert_refused(p, "input", "1099511627776")


def test_zip_bomb_declared(base, tmp_path):
    """A member that really inflates to 6 GiB, its zip entry and .npy header agreeing: refused
    from the headers, before any data is inflated."""
    size = 6 * 2**30
    header = npy_header("|u1", (size,))
    p = rebuilt(base, tmp_path / "bomb.npz", spikes__fc={
        "size": len(header) + size, "crc": 0, "payload": zeros_stream(header, size >> 20)})
    assert p.stat().st_size < 16 * 2**20
    assert_refused(p, "spikes/fc", "packed length 6442450944 bytes", "= 18")


def test_zip_bomb_behind_a_small_entry(base, tmp_path):
    """A member whose zip entry declares its true small size (CRC included) but whose stream
    goes on to inflate 6 GiB: read up to the declared size, then refused."""
    good = members(base)["spikes/fc.npy"]
    p = rebuilt(base, tmp_path / "hidden.npz", spikes__fc={
        "size": len(good), "crc": zlib.crc32(good), "payload": zeros_stream(good, 6 * 1024)})
    assert_refused(p, "spikes/fc", "inflates past the")


def test_consistent_but_larger_than_memory(base, tmp_path):
    """Within the format's limits (4.2 GB of arrays, every header and entry agreeing) but not
    within the memory at hand: a one-line error where allocation fails, no traceback."""
    n = 2**25
    meta = meta_of(base)
    meta["num_samples"] = n
    text = json.dumps(meta).encode()
    arrays = {"input": ("|u1", (n, 1, 4, 5, 5)), "labels": ("<i8", (n,)),
              "predictions": ("<i8", (n,)), "spikes__fc": ("|u1", (n * 2 * 36 // 8,))}
    override = {"meta": {"size": len(npy_header("|u1", (len(text),))) + len(text)}}
    override["meta"]["payload"] = deflate(npy_header("|u1", (len(text),)) + text)
    override["meta"]["crc"] = zlib.crc32(npy_header("|u1", (len(text),)) + text)
    for key, (descr, shape) in arrays.items():
        header = npy_header(descr, shape)
        nbytes = np.dtype(descr).itemsize * int(np.prod(shape))
        assert nbytes % 2**20 == 0
        override[key] = {"size": len(header) + nbytes, "crc": 0,
                         "payload": zeros_stream(header, nbytes >> 20)}
    p = rebuilt(base, tmp_path / "huge.npz", **override)
    assert p.stat().st_size < 16 * 2**20
    assert_refused(p, "input", "needs 3355443200 bytes of memory", "more than can be allocated")


def test_meta_member_too_large(base, tmp_path):
    size = 64 * 2**20
    header = npy_header("|u1", (size,))
    p = rebuilt(base, tmp_path / "bigmeta.npz", meta={
        "size": len(header) + size, "crc": 0, "payload": zeros_stream(header, 64)})
    assert_refused(p, "meta", "67108864 bytes of JSON", "at most 16777216")


def test_too_many_members(base, tmp_path):
    p = tmp_path / "crowd.npz"
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in members(base).items():
            zf.writestr(name, data)
        for i in range(5000):
            zf.writestr(f"x{i}.npy", b"")
    code, _, err, _ = pimsim_limited("trace", "validate", p)
    assert code == 2 and err.count("\n") == 1 and "5007 members" in err and "4096" in err, err


def test_truncated_member_stream(base, tmp_path):
    good = members(base)["weights/fc.npy"]
    p = rebuilt(base, tmp_path / "short.npz",
                weights__fc={"payload": deflate(good)[: len(deflate(good)) // 2]})
    assert_refused(p, "weights/fc", "cannot be read")


# ----------------------------------------------------------------------------- values and JSON

VALUE_CASES = [
    # (case, change, JSON literal for "@@", key, needles)
    ("threshold_nan", _layer(0, "threshold", "@@"), "NaN", "meta.layers[0].threshold",
     ("NaN is not a JSON number",)),
    ("threshold_inf", _layer(0, "threshold", "@@"), "Infinity", "meta.layers[0].threshold",
     ("Infinity",)),
    ("threshold_negative", _layer(0, "threshold", -1.0), None, "meta.layers[0] (c0).threshold",
     ("finite number > 0",)),
    ("threshold_zero", _layer(1, "threshold", 0), None, "meta.layers[1] (fc).threshold",
     ("finite number > 0",)),
    ("threshold_400_digits", _layer(0, "threshold", "@@"), "9" * 400,
     "meta.layers[0].threshold", ("400 digits",)),
    ("leak_nan", _layer(0, "leak", "@@"), "NaN", "meta.layers[0].leak", ("NaN",)),
    ("leak_5", _layer(0, "leak", 5), None, "meta.layers[0] (c0).leak", ("[0, 1]", "grow")),
    ("leak_negative", _layer(1, "leak", -0.5), None, "meta.layers[1] (fc).leak", ("[0, 1]",)),
    ("weight_scale_inf", _layer(1, "weight_scale", "@@"), "Infinity",
     "meta.layers[1].weight_scale", ("Infinity",)),
    ("weight_scale_1e999", _layer(1, "weight_scale", "@@"), "1e999",
     "meta.layers[1].weight_scale", ("1e999 is beyond the float range",)),
    ("weight_scale_zero", _layer(0, "weight_scale", 0.0), None,
     "meta.layers[0] (c0).weight_scale", ("finite number > 0",)),
    ("input_scale_negative", _top("input_scale", -0.01), None, "meta.input_scale",
     ("finite number > 0",)),
    ("input_scale_nan", _top("input_scale", "@@"), "NaN", "meta.input_scale", ("NaN",)),
    ("weight_bits_2_40", _layer(0, "weight_bits", 2**40), None,
     "meta.layers[0] (c0).weight_bits", ("[2, 16]",)),
    ("nested_100", _nest(100), None, "meta.provenance.deep: ", ("deeper than 64",)),
    ("nested_100000", _top("deep", "@@"), "[" * 100_000 + "]" * 100_000, "meta",
     ("deeper than 64",)),
    ("int_5000_digits", _top("num_samples", "@@"), "7" * 5000, "meta.num_samples",
     ("5000 digits", "at most 30")),
    ("num_samples_1e310", _top("num_samples", "@@"), "1e310", "meta.num_samples",
     ("beyond the float range",)),
    ("num_samples_2_40", _top("num_samples", 2**40), None, "meta.num_samples",
     ("[1, 2147483647]",)),
    ("num_samples_2_30", _top("num_samples", 2**30), None, "meta",
     ("declare", f"at most {MAX_TRACE_BYTES} bytes")),
    ("timesteps_2_31", _top("timesteps", 2**31 - 1), None, "meta",
     ("the largest spikes/fc", f"at most {MAX_TRACE_BYTES} bytes")),
    ("kernel_huge", lambda m: m["layers"][0].update(kernel=[1, 1, 2**31 - 1]), None,
     "meta.layers[0] (c0).out_shape", ("do not follow",)),
]


@pytest.mark.parametrize("case,change,literal,key,needles", VALUE_CASES,
                         ids=[c[0] for c in VALUE_CASES])
def test_refused_values(base, tmp_path, case, change, literal, key, needles):
    p = with_meta(base, tmp_path / f"{case}.npz", change, literal)
    assert_refused(p, key, *needles)


@pytest.mark.parametrize("key,values", [("labels", [0, 3]), ("predictions", [-1, 0]),
                                        ("labels", [2**40, 0])])
def test_classes_out_of_range(base, tmp_path, key, values):
    p = with_meta_text(base, tmp_path / f"{key}.npz", json.dumps(meta_of(base)),
                       **{key: np.array(values, np.int64)})
    assert_refused(p, key, "outside the class range [0, 3)")


def test_writer_refuses_what_the_reader_refuses(tmp_path):
    """save_trace applies the same rules, so no pimsim writer makes an unreadable trace."""
    from pimsim.trace import save_trace
    tr = load_trace(_small_trace(tmp_path / "ok.npz"))
    kwargs = {"input": tr.input, "weights": tr.weights, "spikes": tr.packed_spikes,
              "labels": tr.labels, "predictions": tr.predictions}
    for change, key in ((_layer(0, "leak", 1.5), "leak"),
                        (_layer(0, "threshold", float("nan")), "threshold"),
                        (_top("input_scale", float("inf")), "input_scale")):
        meta = json.loads(json.dumps(tr.meta))
        change(meta)
        with pytest.raises(TraceError, match=key):
            save_trace(tmp_path / "x.npz", meta=meta, **kwargs)
    meta = json.loads(json.dumps(tr.meta))
    meta["metrics"] = {"kappa": float("nan")}
    with pytest.raises(TraceError, match="meta: cannot be written as JSON"):
        save_trace(tmp_path / "x.npz", meta=meta, **kwargs)
    with pytest.raises(TraceError, match="class range"):
        save_trace(tmp_path / "x.npz", meta=tr.meta, **{**kwargs, "labels": np.array([0, 3])})


# ----------------------------------------------------------------------------- fuzz


@pytest.fixture(scope="module")
def fuzz_base(tmp_path_factory) -> bytes:
    return _small_trace(tmp_path_factory.mktemp("fuzz") / "base.npz").read_bytes()


_DTYPES = ["|u1", "<u2", "<i8", "|i1", "<f8", "|b1", "<U3", "|V4", "|O", ">i8"]


def _replace_member(data: bytes, name: str, payload: bytes) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(buf, "w",
                                                                 zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, payload if info.filename == name else src.read(info))
    return buf.getvalue()


@st.composite
def damage(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "random member", "header", "flip+trunc"]))
    out = bytearray(data)
    if kind in ("flip", "flip+trunc"):
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
    if kind in ("truncate", "flip+trunc"):
        out = out[: draw(st.integers(0, len(out) - 1))]
    if kind in ("random member", "header"):
        with zipfile.ZipFile(BytesIO(data)) as zf:
            name = draw(st.sampled_from(zf.namelist()))
        if kind == "random member":
            payload = draw(st.binary(max_size=300))
        else:
            shape = tuple(draw(st.lists(st.integers(0, 2**64), max_size=3)))
            payload = npy_header(draw(st.sampled_from(_DTYPES)), shape)
            payload += draw(st.binary(max_size=64))
        out = bytearray(_replace_member(data, name, payload))
    return bytes(out)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.data())
def test_fuzz_reader_gives_a_trace_or_a_trace_error(fuzz_base, tmp_path, data):
    bad = data.draw(damage(fuzz_base))
    p = tmp_path / "fuzz.npz"
    p.write_bytes(bad)
    try:
        assert isinstance(load_trace(p), Trace)
    except TraceError as exc:
        assert "\n" not in str(exc) and str(exc).startswith(str(p))


# ----------------------------------------------------------------------------- statistics cache


def _layer_stat() -> LayerActivity:
    return LayerActivity(name="fc", pe_rows=4, events=120, events_per_step=np.array([50, 70]),
                         spikes_per_step=np.array([5, 7]), tile_max_values=np.array([1, 3]),
                         tile_max_counts=np.array([2, 2]), tiles_per_step=2, window_events=80,
                         active_rows=9, active_rows_per_step=11)


HASH = "ab" * 32
KEY = ("layer", "fc", 4)


def test_cache_round_trip_with_digest(tmp_path):
    disk = DiskStatsCache(tmp_path)
    disk.put(HASH, KEY, _layer_stat())
    back = disk.get(HASH, KEY)
    assert all(np.array_equal(getattr(back, f), getattr(_layer_stat(), f))
               for f in LayerActivity.__dataclass_fields__)
    with np.load(disk._file(HASH, KEY)) as z:
        assert z["digest"].dtype == np.uint8 and z["digest"].shape == (32,)
    pim = PimActivity(phases=2, driven_rows=np.array([3, 4]), code_sums=np.array([5, 6]))
    disk.put(HASH, ("pim", "c0", 4), pim)
    assert disk.get(HASH, ("pim", "c0", 4)).driven_rows.tolist() == [3, 4]
    # an entry under another key or trace is not this one's
    path = disk._file(HASH, KEY)
    other = disk._file("cd" * 32, KEY)
    other.parent.mkdir(parents=True)
    other.write_bytes(path.read_bytes())
    assert disk.get("cd" * 32, KEY) is None


@pytest.mark.parametrize("damage_kind", ["truncated", "empty", "junk", "flipped", "edited",
                                         "no digest", "digest changed"])
def test_cache_bad_entry_is_recomputed(tmp_path, damage_kind):
    disk = DiskStatsCache(tmp_path)
    disk.put(HASH, KEY, _layer_stat())
    path = disk._file(HASH, KEY)
    data = path.read_bytes()
    with np.load(path) as z:
        fields = {k: z[k] for k in z.files}
    if damage_kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage_kind == "empty":
        path.write_bytes(b"")
    elif damage_kind == "junk":
        path.write_bytes(b"not a cache entry\n" * 10)
    elif damage_kind == "flipped":  # one bit of events_per_step's data (stored, no CRC read)
        at = data_offset(path, "events_per_step.npy")[1] + 128
        bad = bytearray(data)
        bad[at] ^= 0x10
        path.write_bytes(bytes(bad))
    else:  # well-formed files whose content no longer matches
        if damage_kind == "edited":
            fields["events"] = fields["events"] + 1
        elif damage_kind == "no digest":
            del fields["digest"]
        else:
            fields["digest"] = fields["digest"][::-1].copy()
        with path.open("wb") as fh:
            np.savez(fh, **fields)
    assert disk.get(HASH, KEY) is None          # never used, never a traceback
    disk.put(HASH, KEY, _layer_stat())          # what the sweep does on a miss: overwrite
    assert disk.get(HASH, KEY).events == 120

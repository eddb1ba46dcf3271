"""Results of a sweep: the resumable CSV journal, Parquet output, sidecar and row formatting.

Rows are appended in batches with one ``os.write`` + ``fsync`` each; a restarted sweep skips
the points already present and drops a torn last line; at the end the file is rewritten sorted
by point (atomically). A sidecar ``<out>.sweep.json`` holds the sweep fingerprint (base config,
space, trace contents, options, columns, and the code versions: pimsim, cost model,
statistics), so a results file from another sweep or another version of the model is never
extended (:meth:`Journal.check_resumable` says which), and what was run, so that a result can be
reproduced from its files alone: the resolved base config (``config``), ``pimsim_version``,
the space and trace paths and each trace file's sha256 (``trace_sha256``, in ``traces``
order). Floats are written with ``repr`` (shortest round trip), so a row equals
``pimsim run --set ...`` exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pimsim.sweep.errors import SweepError


def _fmt(v: Any) -> str:
    """One CSV field: floats round-trip exactly (repr), booleans as true/false."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if any(c in s for c in ',"\n\r'):
        return '"' + s.replace('"', '""') + '"'
    return s


def _sidecar(out: Path) -> Path:
    return out.with_name(out.name + ".sweep.json")


def _journal_path(out: Path) -> Path:
    return out if out.suffix.lower() != ".parquet" else out.with_name(out.name + ".partial.csv")


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Journal:
    """The results CSV as an append-only journal keyed by the ``point`` column.

    A fresh journal (no results yet, or ``overwrite``) writes nothing until its first rows
    (or :meth:`finalize`): an old results file survives a sweep that fails before producing
    any. Then the old sidecar is removed, the new journal replaces the old file atomically and
    the new sidecar is written, so that at every instant the files on disk either resume as
    the old sweep, resume as the new one, or are refused.
    """

    def __init__(self, out: Path, header: list[str], fingerprint: str, meta: dict[str, Any],
                 *, overwrite: bool):
        self.out, self.header, self.fingerprint, self.meta = out, header, fingerprint, meta
        self.path = _journal_path(out)
        self.sidecar = _sidecar(out)
        self.fresh = True
        self.done: set[int] = set()
        if (self.path.exists() or out.exists()) and not overwrite:
            side = self.read_sidecar(out)
            self.check_resumable(out, side, fingerprint, meta.get("versions"))
            if not self.path.exists():
                _atomic_write(self.path, (",".join(header) + "\n").encode())
            self.done = self.done_points(out, header)
            self.fresh = False

    def _start(self, lines: list[str]) -> None:
        """Replace any old results by the header and the first ``lines`` (module doc)."""
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sidecar)
        _atomic_write(self.path, ("\n".join([",".join(self.header), *lines]) + "\n").encode())
        _atomic_write(self.sidecar, json.dumps({**self.meta, "fingerprint": self.fingerprint,
                                                "complete": False}, indent=1).encode())
        self.fresh = False

    @staticmethod
    def read_sidecar(out: Path) -> dict[str, Any] | None:
        """The sidecar JSON of a results file, or None."""
        try:
            return json.loads(_sidecar(out).read_text(encoding="utf-8"))  # type: ignore[no-any-return]
        except (OSError, ValueError):
            return None

    @staticmethod
    def check_resumable(out: Path, side: dict[str, Any] | None, fingerprint: str,
                        versions: dict[str, Any] | None = None) -> None:
        """Raise SweepError unless the existing results belong to this very sweep, run by
        this very code (``versions``: pimsim, cost model and statistics versions)."""
        if side is not None and side.get("fingerprint") == fingerprint:
            return
        if side is None:
            why = f"it has no sweep sidecar {_sidecar(out).name}"
        elif versions is not None and side.get("versions") != versions:
            why = (f"it was written by {describe_versions(side.get('versions'))} and this is "
                   f"{describe_versions(versions)}, so its numbers may be stale")
        else:
            why = ("it was written by a different sweep (space, base config, traces or options "
                   "differ)")
        raise SweepError(f"refusing to resume: {why}; use --overwrite to replace it or "
                         "choose another --out", file=str(out), key="--out")

    @staticmethod
    def done_points(out: Path, header: list[str] | None) -> set[int]:
        """Point ids already in the journal; a torn last line is cut off first."""
        path = _journal_path(out)
        if header is None or not path.exists():
            return set()
        data = path.read_bytes()
        if not data.endswith(b"\n"):  # a torn last line: drop it
            cut = data.rfind(b"\n") + 1
            with open(path, "r+b") as fh:
                fh.truncate(cut)
                os.fsync(fh.fileno())
            data = data[:cut]
        lines = data.decode("utf-8").splitlines()
        if not lines or lines[0] != ",".join(header):
            raise SweepError("refusing to resume: its header differs from this sweep's columns; "
                             "use --overwrite", file=str(path), key="--out")
        width = len(header)
        done = set()
        for line in lines[1:]:
            head = line.split(",", 1)[0]
            if head.isdigit() and _field_count(line) == width:
                done.add(int(head))
        return done

    def append(self, lines: list[str]) -> None:
        """Append whole lines with one write + fsync (a kill leaves at most a torn tail)."""
        if not lines:
            return
        if self.fresh:
            self._start(lines)
            return
        data = ("\n".join(lines) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)

    def finalize(self, meta: dict[str, Any]) -> int:
        """Rewrite the results sorted by point, one row each (atomic); mark complete."""
        if self.fresh:
            self._start([])
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        rows: dict[int, str] = {}
        width = len(self.header)
        for line in lines[1:]:
            head = line.split(",", 1)[0]
            if head.isdigit() and _field_count(line) == width:
                rows.setdefault(int(head), line)
        body = [rows[k] for k in sorted(rows)]
        csv_text = "\n".join([lines[0], *body]) + "\n"
        if self.path == self.out:
            _atomic_write(self.out, csv_text.encode())
        else:
            import io

            import pandas as pd

            df = pd.read_csv(io.StringIO(csv_text))
            fd, tmp = tempfile.mkstemp(dir=self.out.parent, suffix=".parquet.tmp")
            os.close(fd)
            try:
                df.to_parquet(tmp, index=False)
                os.replace(tmp, self.out)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        _atomic_write(self.sidecar, json.dumps({**meta, "header": self.header,
                                                "fingerprint": self.fingerprint,
                                                "complete": True, "rows": len(body)},
                                               indent=1).encode())
        if self.path != self.out:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        return len(body)


def describe_versions(versions: dict[str, Any] | None) -> str:
    """``pimsim 0.1.0 (cost model 2, statistics 2)``, or what an unversioned file was."""
    if not isinstance(versions, dict):
        return "an older pimsim (no code version recorded)"
    return (f"pimsim {versions.get('pimsim')} (cost model {versions.get('cost_model')}, "
            f"statistics {versions.get('stats')})")


def _field_count(line: str) -> int:
    if '"' not in line:
        return line.count(",") + 1
    import csv

    return len(next(csv.reader([line])))



class RowFormatter:
    """CSV lines of result rows, built in bulk, column by column.

    A line is ``point,trace,config_hash,<swept values>[,pim.enabled],is_base,<metrics>``;
    ``config_hash`` = sha256(base hash + JSON of the values)[:16]. Each distinct value of a
    column is formatted once (:func:`_fmt`, ``json.dumps``, ``repr`` of a float found by its
    bit pattern); the part that depends on the configuration only is built once per
    configuration.
    """

    def __init__(self, combos: Sequence[tuple[Any, ...]], labels: Sequence[str], base_hash: str,
                 base_values: tuple[Any, ...], enabled: Sequence[bool | None] | None):
        self.combos, self.base_hash, self.base_values = combos, base_hash, base_values
        self.labels = [_fmt(label) for label in labels]
        self.ntr = len(labels)
        self.enabled = enabled
        self._prefix: dict[int, str] = {}
        self._text: list[dict[Any, tuple[str, str]]] = [{} for _ in base_values]

    def prefix(self, ci: int) -> str:
        """``config_hash,<values>[,enabled],is_base`` of configuration ``ci``."""
        hit = self._prefix.get(ci)
        if hit is None:
            values = self.combos[ci]
            fields, js = [], []
            for table, v in zip(self._text, values):
                text = table.get((type(v), v))
                if text is None:  # (CSV field, JSON text), once per distinct value
                    text = table[(type(v), v)] = (_fmt(v), json.dumps(v, default=str))
                fields.append(text[0])
                js.append(text[1])
            chash = hashlib.sha256(
                f"{self.base_hash}[{', '.join(js)}]".encode()).hexdigest()[:16]
            if self.enabled is not None:
                fields.append(_fmt(self.enabled[ci]))
            fields.append("1" if values == self.base_values else "0")
            hit = self._prefix[ci] = chash + "," + ",".join(fields)
        return hit

    def lines(self, pids: np.ndarray, metrics: np.ndarray) -> list[str]:
        """One CSV line per (point id, metric row)."""
        if not len(pids):
            return []
        ci, ti = np.divmod(pids, self.ntr)
        cols: list[Sequence[str]] = [
            [str(p) for p in pids.tolist()],
            [self.labels[t] for t in ti.tolist()],
            [self.prefix(c) for c in ci.tolist()],
        ]
        for j in range(metrics.shape[1]):
            col = np.ascontiguousarray(metrics[:, j], dtype=np.float64)
            _, first, inverse = np.unique(col.view(np.int64), return_index=True,
                                             return_inverse=True)
            uniq = np.array([repr(x) for x in col[first].tolist()], dtype=object)
            cols.append(uniq[inverse.reshape(-1)].tolist())
        return [",".join(row) for row in zip(*cols)]


def write_skipped(out: Path, skipped: list[tuple[int, str, str]]) -> None:
    """``<out>.skipped.csv``: point, trace, reason of every skipped point (sorted)."""
    txt = "point,trace,reason\n" + "".join(
        f"{p},{_fmt(t)},{_fmt(r)}\n" for p, t, r in sorted(skipped))
    _atomic_write(Path(str(out) + ".skipped.csv"), txt.encode())

"""Results of a sweep: the resumable CSV journal, Parquet output, sidecar and row formatting.

Rows are appended in batches with one ``os.write`` + ``fsync`` each; a restarted sweep skips
the points already present and drops a torn last line; at the end the file is rewritten sorted
by point (atomically); a sweep run with ``--overwrite`` journals beside the old results and
replaces them only when it completes (:class:`Journal`). A sidecar ``<out>.sweep.json`` holds
the sweep fingerprint (base config, space, trace contents, options, columns, and the code
versions: pimsim, cost model, statistics), so a results file from another sweep or another
version of the model is never extended (:meth:`Journal.check_resumable` says which), and what
was run, so that a result can be reproduced from its files alone: the resolved base config
(``config``), ``pimsim_version``, the space and trace paths and each trace file's sha256
(``trace_sha256``, in ``traces`` order). Floats are written with ``repr`` (shortest round
trip), so a row equals ``pimsim run --set ...`` exactly.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pimsim.atomic import atomic_open, atomic_write_bytes, remove_stale_temps, write_error
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


def _pending_path(out: Path) -> Path:
    """The journal of a sweep that replaces other results (``--overwrite``)."""
    return out.with_name(out.name + ".overwrite.partial.csv")


def _skipped_path(out: Path) -> Path:
    return out.with_name(out.name + ".skipped.csv")


def sweep_files(out: Path) -> list[Path]:
    """Every file a sweep into ``out`` may write: results, journals, sidecars, skipped list."""
    pend = _pending_path(out)
    return list(dict.fromkeys([out, _journal_path(out), _sidecar(out), _skipped_path(out),
                               pend, _sidecar(pend)]))


def _atomic_write(path: Path, data: bytes) -> None:
    atomic_write_bytes(path, data, key="--out")


class Journal:
    """The results CSV as an append-only journal keyed by the ``point`` column.

    Where the rows go:

    * a new sweep, or one resumed (same fingerprint), journals into the results file itself
      (``<out>.partial.csv`` for Parquet), with the sidecar ``<out>.sweep.json`` saying
      ``complete: false`` until :meth:`finalize`;
    * a sweep that replaces other results (``--overwrite`` with an ``<out>`` or its journal
      present) journals into ``<out>.overwrite.partial.csv`` (and its own sidecar) and leaves
      the old results, their sidecar and skipped list byte for byte as they were until it
      completes: :meth:`finalize` then replaces them. Interrupted, it resumes from there when
      the same command is run again (with or without ``--overwrite``).

    A fresh journal writes nothing until its first rows (or :meth:`finalize`). Temporary files
    of a killed atomic write (:func:`pimsim.atomic.remove_stale_temps`) are removed when a
    journal is opened.
    """

    def __init__(self, out: Path, header: list[str], fingerprint: str, meta: dict[str, Any],
                 *, overwrite: bool):
        self.out, self.header, self.fingerprint, self.meta = out, header, fingerprint, meta
        self.out_sidecar = _sidecar(out)
        for path in sweep_files(out):
            remove_stale_temps(path)
        main, pend = _journal_path(out), _pending_path(out)
        self.fresh = True
        self.complete = False
        self.replacing = False
        self.done: set[int] = set()
        self.path, self.sidecar = main, self.out_sidecar
        pend_side = self.read_sidecar(pend)
        if pend.exists() and pend_side and pend_side.get("fingerprint") == fingerprint:
            # an interrupted sweep that replaces other results: resume it
            self.path, self.sidecar, self.replacing = pend, _sidecar(pend), True
            self.done = self.done_points(pend, header)
            self.fresh = False
        elif out.exists() or main.exists():
            if overwrite:  # old results stay until this sweep completes
                self.path, self.sidecar, self.replacing = pend, _sidecar(pend), True
            else:
                side = self.read_sidecar(out)
                self.check_resumable(out, side, fingerprint, meta.get("versions"))
                if side and side.get("complete") and out.exists():
                    self.complete = True
                    if main != out:  # a Parquet sweep killed after its sidecar was written
                        with contextlib.suppress(OSError):
                            os.unlink(main)
                    return
                if not main.exists():
                    _atomic_write(main, (",".join(header) + "\n").encode())
                self.done = self.done_points(main, header)
                self.fresh = False

    def _start(self, lines: list[str]) -> None:
        """Write the journal's header and first ``lines`` (replacing any journal of another
        sweep at that path), then its sidecar (class doc)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
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
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise write_error(self.path, exc, key="--out") from None

    def finalize(self, meta: dict[str, Any],
                 skipped: Sequence[tuple[int, str, str]] = ()) -> int:
        """Write the finished results, sorted by point, one row each; return the row count.

        In this order, each step atomic: the skipped list (``<out>.skipped.csv``, removed when
        nothing was skipped), the results file, its sidecar marked ``complete``, then the
        journal when it is another file. A kill at any point leaves files that the same command
        resumes (it redoes this step) and no step is lost: the sidecar says complete only once
        everything else is written.
        """
        if self.fresh:
            self._start([])
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SweepError(f"cannot read the journal: {exc.strerror or exc}",
                             file=str(self.path), key="--out") from None
        lines = text.splitlines()
        rows: dict[int, str] = {}
        width = len(self.header)
        for line in lines[1:]:
            head = line.split(",", 1)[0]
            if head.isdigit() and _field_count(line) == width:
                rows.setdefault(int(head), line)
        body = [rows[k] for k in sorted(rows)]
        csv_text = "\n".join([lines[0], *body]) + "\n"
        write_skipped(self.out, list(skipped))
        if self.out.suffix.lower() != ".parquet":
            _atomic_write(self.out, csv_text.encode())
        else:
            import io

            import pandas as pd

            df = pd.read_csv(io.StringIO(csv_text))
            with atomic_open(self.out, "wb", suffix=".parquet", key="--out") as fh:
                df.to_parquet(fh, index=False)
        _atomic_write(self.out_sidecar, json.dumps({**meta, "header": self.header,
                                                    "fingerprint": self.fingerprint,
                                                    "complete": True, "rows": len(body)},
                                                   indent=1).encode())
        # the journal(s) it replaces: its own, and a replaced Parquet sweep's partial journal
        for path in {self.path, _journal_path(self.out)} - {self.out}:
            with contextlib.suppress(OSError):
                os.unlink(path)
        if self.sidecar != self.out_sidecar:
            with contextlib.suppress(OSError):
                os.unlink(self.sidecar)
        self.complete = True
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
    """``<out>.skipped.csv``: point, trace, reason of every skipped point (sorted); an old
    list is removed when nothing was skipped."""
    path = _skipped_path(out)
    if not skipped:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    txt = "point,trace,reason\n" + "".join(
        f"{p},{_fmt(t)},{_fmt(r)}\n" for p, t, r in sorted(skipped))
    _atomic_write(path, txt.encode())

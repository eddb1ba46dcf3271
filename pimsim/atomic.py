"""Output files: checked before any work starts, written atomically, write errors on one line.

Rules for a path pimsim writes (``--json``, ``--csv``, ``--out``, plots, sweep results):

* **Checked first.** :func:`check_output_path` runs before a command does its work: the path
  must not be a folder, and the nearest folder that exists on its way must be a writable folder
  in which a file can be created (pimsim creates missing parent folders). A folder under
  ``/proc`` or ``/sys``, on a read-only mount, or a "folder" that is a regular file fails here,
  with one line, not after minutes of work.
* **Regular files are replaced atomically**: the data go to a temporary file
  ``.<name>.XXXXXXXX[<suffix>].tmp`` in the target's folder, are flushed and fsync'ed, then
  ``os.replace`` puts it in place. A reader never sees a half-written file; an interrupted or
  failed write leaves the old file as it was and removes the temporary file (a ``kill -9``
  cannot, so :func:`remove_stale_temps` removes leftovers of that pattern; the sweep calls it
  when it starts or resumes).
* **Permissions.** A new file gets the usual ``0666`` less the umask (not ``mkstemp``'s
  ``0600``); a replaced file keeps its permission bits.
* **Special files are written through**: a character device (``/dev/null``, a terminal) or a
  FIFO is opened and written directly, never replaced, so ``--json /dev/null`` or
  ``--json /dev/stdout`` does what the shell would do. A block device or a socket is refused.
* **Symbolic links are followed on purpose**: the file the link points to (resolved with
  ``os.path.realpath``) is replaced atomically and the link stays in place, still pointing to
  it; a dangling link creates its target.
* **Write errors** (any ``OSError``: no space, permission, read-only file system) become a
  :class:`~pimsim.errors.PimsimError` naming the file and the option, which the CLI prints as
  one line with exit status 2.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from pimsim.errors import PimsimError

#: The random part mkstemp puts in a temporary file's name (8 of these characters).
_RANDOM = "[a-z0-9_]{8}"


def temp_name_pattern(name: str) -> re.Pattern[str]:
    """The names of the temporary files :func:`atomic_open` writes beside the file ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.{_RANDOM}[^/]*\.tmp")


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask is racy)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status",
                                                         encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """Permission bits of a new output file: 0666 less the umask."""
    return 0o666 & ~_umask()


def _oserror_text(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def write_error(path: str | os.PathLike[str], exc: OSError, *, key: str | None = None,
                temp: str | None = None) -> PimsimError:
    """The one-line error for an ``OSError`` raised while writing ``path`` (through the
    temporary file ``temp``, which the message does not name)."""
    name = str(exc.filename) if exc.filename else ""
    where = f" ({name})" if name and name not in (str(path), temp) else ""
    return PimsimError(f"cannot write the file: {_oserror_text(exc)}{where}", file=str(path),
                       key=key)


def _special(path: str, key: str | None = None) -> str | None:
    """``"write"`` for a character device or FIFO (written through), ``"folder"``, ``"refuse"``
    (block device, socket), or None for a regular file, a missing path or a dangling link."""
    try:
        st = os.stat(path)  # follows links: /dev/stdout -> the terminal or pipe
    except (FileNotFoundError, NotADirectoryError):  # the folder check says which part
        return None
    except OSError as exc:  # a link loop, a name too long, ...
        raise PimsimError(f"cannot use this path: {_oserror_text(exc)}; expected a file path "
                          "in a writable folder", file=path, key=key) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "write"
    if stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        return "refuse"
    return None


def resolve_output(path: str | os.PathLike[str]) -> Path:
    """The regular file that writing ``path`` replaces: the path itself, or where its symbolic
    link points (followed on purpose, module doc)."""
    p = Path(path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def _check_folder(folder: Path, file: str, key: str | None) -> None:
    """``folder`` (or the nearest existing folder above it) can receive a new file."""
    anc = folder if str(folder) else Path(".")
    while not anc.exists() and not anc.is_symlink():
        if anc.parent == anc:
            break
        anc = anc.parent
    if anc.exists() and not anc.is_dir():
        raise PimsimError(f"cannot write here: {anc} is a file, not a folder; expected a path "
                          "in a writable folder", file=file, key=key)
    if not anc.exists():
        raise PimsimError(f"cannot write here: {anc} does not exist (a dangling link?); "
                          "expected a path in a writable folder", file=file, key=key)
    if not os.access(anc, os.W_OK | os.X_OK):
        raise PimsimError(f"cannot write in {anc}: permission denied; expected a writable "
                          "folder", file=file, key=key)
    try:  # what the write will do: create a file there (fails in /proc, /sys, read-only mounts)
        fd, probe = tempfile.mkstemp(prefix=".pimsim-probe.", suffix=".tmp", dir=anc)
    except OSError as exc:
        raise PimsimError(f"cannot write in {anc}: {_oserror_text(exc)}; expected a writable "
                          "folder", file=file, key=key) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def check_output_path(path: str | os.PathLike[str], *, key: str | None = None,
                      special: bool = True) -> None:
    """Raise PimsimError unless ``path`` can be written as a file (module doc), before any
    work is done. ``special=False`` refuses character devices and FIFOs too (files that are
    appended to and resumed, such as sweep results)."""
    file = str(path)
    kind = _special(file, key)
    if kind == "folder":
        raise PimsimError("is a folder; expected a file path", file=file, key=key)
    if kind == "refuse" or (kind == "write" and not special):
        what = "a regular file" if not special else "a regular file, a character device or a FIFO"
        raise PimsimError(f"is not a regular file; expected {what}", file=file, key=key)
    if kind == "write":
        if not os.access(file, os.W_OK):
            raise PimsimError("cannot write the file: permission denied", file=file, key=key)
        return
    target = resolve_output(file)
    if target.is_dir():
        raise PimsimError(f"links to the folder {target}; expected a file path", file=file,
                          key=key)
    if target.exists() and not os.access(target, os.W_OK) and os.geteuid() != 0:
        raise PimsimError("cannot write the file: permission denied", file=file, key=key)
    _check_folder(target.parent, file, key)


def check_output_dir(path: str | os.PathLike[str], *, key: str | None = None) -> None:
    """Raise PimsimError unless ``path`` is, or can be created as, a writable folder."""
    file = str(path)
    p = Path(file)
    if p.exists() and not p.is_dir():
        raise PimsimError("is a file; expected a folder (it is created when missing)",
                          file=file, key=key)
    _check_folder(p, file, key)


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", *, suffix: str = "",
                key: str | None = None) -> Iterator[IO]:  # type: ignore[type-arg]
    """Open ``path`` for writing by the rules of the module doc: a temporary file beside it
    that replaces it atomically on success, or the special file itself.

    ``mode`` is ``"w"`` (text, UTF-8) or ``"wb"``; ``suffix`` goes before ``.tmp`` in the
    temporary file's name. An ``OSError`` becomes a one-line :class:`PimsimError` (``key``:
    the option that named the file).
    """
    file = str(path)
    kind = _special(file, key)
    if kind == "folder":
        raise PimsimError("is a folder; expected a file path", file=file, key=key)
    if kind == "refuse":
        raise PimsimError("is not a regular file; expected a regular file, a character device "
                          "or a FIFO", file=file, key=key)
    enc = {} if "b" in mode else {"encoding": "utf-8"}
    if kind == "write":  # a device or FIFO: written through, never replaced
        try:
            with open(file, mode, **enc) as fh:
                yield fh
                fh.flush()
        except OSError as exc:
            raise write_error(file, exc, key=key) from None
        return
    target = resolve_output(file)
    try:
        keep = stat.S_IMODE(os.stat(target).st_mode) if target.is_file() else None
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f"{suffix}.tmp",
                                   dir=target.parent)
    except OSError as exc:
        raise write_error(file, exc, key=key) from None
    try:
        with os.fdopen(fd, mode, **enc) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, new_file_mode() if keep is None else keep)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise write_error(file, exc, key=key, temp=tmp) from None
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str, *, key: str | None = None
                      ) -> None:
    """Write ``text`` (UTF-8) to ``path`` by the rules of the module doc."""
    with atomic_open(path, "w", key=key) as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, key: str | None = None
                       ) -> None:
    """Write ``data`` to ``path`` by the rules of the module doc."""
    with atomic_open(path, "wb", key=key) as fh:
        fh.write(data)


def remove_stale_temps(path: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files of :func:`atomic_open` left beside ``path`` by a killed
    process (our own name pattern only); return them."""
    target = resolve_output(path)
    pattern = temp_name_pattern(target.name)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(target.parent if str(target.parent) else "."))
    except OSError:
        return removed
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed

"""A bounded YAML loader for hardware configs and sweep spaces.

``yaml.safe_load`` builds no objects but plain data, yet a hostile file can still exhaust the
machine: a few lines of nested aliases ("billion laughs") expand to 10^9 values, 3,000 nested
brackets overflow the composer's recursion, a megabyte-long integer literal takes seconds to
convert, and a key given twice in one mapping silently keeps the last value. This loader
refuses all of those with a :class:`~pimsim.errors.ConfigError` naming the file, the dotted
path of the offending value (else ``line N``) and what is allowed:

* the file is at most :data:`MAX_BYTES` (1 MiB; the shipped configs are under 10 KiB);
* nesting is at most :data:`MAX_DEPTH` levels (32; a config is 3 deep);
* at most :data:`MAX_VALUES` values (100,000) after expanding aliases, which bounds the
  alias expansion; at most :data:`MAX_ALIASES` aliases (1,000) are used at all;
* a key appears once per mapping (the key and both lines are named);
* a scalar is at most :data:`MAX_SCALAR_CHARS` characters (64 Ki), a number at most
  :data:`MAX_NUMBER_CHARS` (100): a longer literal is not a physical constant.

It reads YAML as ``yaml.safe_load`` does (the safe tags only), with libyaml's parser when
PyYAML has it and PyYAML's own composer, which counts and bounds as it goes (a refused file
is refused after at most :data:`MAX_VALUES` values); malformed YAML, an invalid timestamp or a
bad ``!!binary`` are ConfigErrors too.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser as _CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _CParser = None

from pimsim.errors import ConfigError

#: Largest YAML file read, bytes.
MAX_BYTES = 1 << 20
#: Deepest nesting of mappings and sequences (aliases expanded).
MAX_DEPTH = 32
#: Most values in one document, aliases expanded (each use of an alias counts its values).
MAX_VALUES = 100_000
#: Most aliases used in one document.
MAX_ALIASES = 1_000
#: Longest scalar, characters.
MAX_SCALAR_CHARS = 1 << 16
#: Longest int or float literal, characters.
MAX_NUMBER_CHARS = 100

_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefused(ConfigError):
    """A YAML text over one of the bounds of this module (not merely malformed YAML)."""


class _Refused(Exception):
    """A bound of this module was exceeded (message, dotted path, 0-based line)."""

    def __init__(self, message: str, path: list[str], line: int | None):
        super().__init__(message)
        self.message, self.path, self.line = message, path, line


def _label(index: Any) -> str | None:
    if isinstance(index, ScalarNode):
        return str(index.value)[:80]
    if isinstance(index, int):
        return f"[{index}]"
    return None


class _BoundedComposer(Composer):
    """PyYAML's composer, bounding nesting depth, the number of values and alias use."""

    def _bounds_init(self) -> None:
        self._path: list[str] = []
        self._aliases = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        label = _label(index)
        self._path.append(label if label is not None else "?")
        try:
            self._nodes += 1
            if self._nodes > MAX_VALUES:
                raise _Refused(f"more than {MAX_VALUES:,} values", self._path[1:],
                               self.peek_event().start_mark.line)
            if len(self._path) > MAX_DEPTH + 1:
                raise _Refused(f"nested deeper than {MAX_DEPTH} levels", self._path[1:],
                               self.peek_event().start_mark.line)
            if self.check_event(yaml.AliasEvent):
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise _Refused(f"more than {MAX_ALIASES} YAML aliases", self._path[1:],
                                   self.peek_event().start_mark.line)
            return super().compose_node(parent, index)
        except yaml.YAMLError as exc:
            if not hasattr(exc, "pimsim_path"):  # the innermost value being read
                path = [p for p in self._path[1:] if p != "?"]
                exc.pimsim_path = path  # type: ignore[attr-defined]
            raise
        finally:
            self._path.pop()


if _CParser is not None:
    class BoundedLoader(_BoundedComposer, _CParser, SafeConstructor, Resolver):
        """Events from libyaml (5-10x faster than pure Python), composed and constructed as
        by ``yaml.safe_load``, with the bounds of this module."""

        def __init__(self, stream: str):
            _CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._bounds_init()
else:  # pragma: no cover - PyYAML built without libyaml
    class BoundedLoader(_BoundedComposer, Reader, Scanner, Parser,  # type: ignore[no-redef]
                        SafeConstructor, Resolver):
        """``yaml.SafeLoader`` with the bounds of this module."""

        def __init__(self, stream: str):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            self._bounds_init()


def _check_tree(root: Node) -> None:
    """Count values (aliases expanded), depth, duplicate keys and scalar lengths."""
    count = 0
    stack: list[tuple[Node, list[str]]] = [(root, [])]
    while stack:
        node, path = stack.pop()
        count += 1
        line = node.start_mark.line if node.start_mark else None
        if count > MAX_VALUES:
            raise _Refused(f"more than {MAX_VALUES:,} values once YAML aliases are expanded "
                           "(aliases that nest aliases: an alias bomb?)", path, line)
        if len(path) > MAX_DEPTH:
            raise _Refused(f"nested deeper than {MAX_DEPTH} levels (aliases expanded)", path,
                           line)
        if isinstance(node, ScalarNode):
            n = len(node.value)
            if n > MAX_SCALAR_CHARS:
                raise _Refused(f"a value of {n:,} characters (at most {MAX_SCALAR_CHARS:,})",
                               path, line)
            if node.tag in _NUMBER_TAGS and n > MAX_NUMBER_CHARS:
                raise _Refused(f"a number literal of {n:,} characters (at most "
                               f"{MAX_NUMBER_CHARS})", path, line)
        elif isinstance(node, SequenceNode):
            items = [(child, [*path, f"[{i}]"]) for i, child in enumerate(node.value)]
            stack.extend(reversed(items))
        elif isinstance(node, MappingNode):
            seen: dict[tuple[str, str], int] = {}
            items = []
            for k, v in node.value:
                if isinstance(k, ScalarNode) and k.tag != _MERGE_TAG:
                    ident = (k.tag, k.value)
                    kline = k.start_mark.line + 1 if k.start_mark else 0
                    if ident in seen:
                        raise _Refused(f"duplicate key {k.value[:80]!r} (lines {seen[ident]} "
                                       f"and {kline}): give each key once", [*path, k.value],
                                       None)
                    seen[ident] = kline
                label = str(k.value)[:80] if isinstance(k, ScalarNode) else "?"
                items.append((k, [*path, label]))
                items.append((v, [*path, label]))
            stack.extend(reversed(items))


def _where(path: list[str], line: int | None) -> tuple[str | None, str]:
    """(dotted key of ``path``, cut after 6 levels; " (line N)")."""
    def join(parts: list[str]) -> str:
        return ".".join(p for p in parts if p).replace(".[", "[")

    key = join(path) if len(path) <= 8 else join(path[:6]) + "..."
    at = f" (line {line + 1})" if line is not None else ""
    if not key:
        return (f"line {line + 1}" if line is not None else None), ""
    return key, at


def load_text(text: str, *, file: str) -> Any:
    """Parse one YAML document with the bounds of this module (ConfigError on any problem)."""
    if len(text) > MAX_BYTES:
        raise YamlRefused(f"file too large: {len(text):,} characters (a YAML config or space "
                          f"is at most {MAX_BYTES:,} bytes)", file=file)
    loader = None
    try:
        loader = BoundedLoader(text)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_tree(node)
        return loader.construct_document(node)
    except _Refused as exc:
        key, at = _where(exc.path, exc.line)
        raise YamlRefused(f"YAML refused: {exc.message}{at}", file=file, key=key) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if problem == "exceeded maximum nesting depth":  # libyaml's own limit (1,000)
            problem = f"nested deeper than {MAX_DEPTH} levels"
        key, at = _where(getattr(exc, "pimsim_path", []), mark.line if mark else None)
        raise ConfigError(f"invalid YAML: {problem}{at}", file=file, key=key) from None
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
        # e.g. a timestamp that is no date (2001-13-45), an int that does not convert
        raise ConfigError(f"invalid YAML value: {str(exc)[:200]}", file=file) from None
    finally:
        if loader is not None and hasattr(loader, "dispose"):
            loader.dispose()


def read_bytes(file: str, *, what: str) -> bytes:
    """A YAML file's bytes, at most :data:`MAX_BYTES`; a zip archive (a trace given as a
    config) or a larger file is a one-line error."""
    try:
        with open(file, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", file=file) from None
    if raw[:4] == b"PK\x03\x04":
        raise ConfigError(f"expected {what}, got a zip/npz archive (a trace? give it to "
                          "--trace)", file=file)
    if len(raw) > MAX_BYTES:
        raise YamlRefused(f"file too large: more than {MAX_BYTES:,} bytes ({what} is at most "
                          "1 MiB)", file=file)
    return raw


def decode(raw: bytes, *, file: str) -> str:
    """UTF-8 text of a YAML file; binary data is a one-line error."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"expected a UTF-8 YAML text file, got binary data (byte "
                          f"{exc.start} is not UTF-8)", file=file) from None


def load_file(file: str, *, what: str) -> Any:
    """Read, decode and parse a YAML file with every bound of this module."""
    return load_text(decode(read_bytes(file, what=what), file=file), file=file)

"""Names from the config that become parts of output paths (class and method names).

A class name ``c`` and a method name ``m`` make paths like ``results/tracks/c.m.bw`` and
``results/attributions/c.m/``. A name must therefore be one safe path component: not empty, no
path separator, not ``.``/``..`` nor starting with a dot (hidden files, and the start of a
relative path), no control characters (they break TSV tables and terminals), no leading or
trailing white space (invisible in a listing), short enough for a file name once suffixes are
added, and no two names that one case-insensitive file system (macOS, Windows) would store as
the same file. Spaces, dashes, dots inside and non-ASCII letters are fine (``class 1``,
``CTCF-bound``, ``ünïcode``).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from ..errors import SeqlrpError

# a file name is at most 255 bytes on common file systems; the longest suffix seqlrp adds to a
# class name is ".{method}.bedGraph.gz.tbi" plus a temporary file's ".{name}.XXXXXXXX.tmp.npz"
MAX_NAME_BYTES = 100

_SEPARATORS = ("/", "\\")


def name_problem(name: object) -> str | None:
    """Why ``name`` is not a safe single path component, or None when it is."""
    if not isinstance(name, str):
        return f"must be text, got {type(name).__name__} {name!r}"
    if name == "":
        return "is empty"
    if any(sep in name for sep in _SEPARATORS):
        return "contains a path separator ('/' or '\\')"
    if name in (".", ".."):
        return "is a relative directory ('.' or '..')"
    if name.startswith("."):
        return "starts with a dot (a hidden file, or part of a relative path)"
    if any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name):
        return "contains a control or format character (tab, newline, zero-width space, ...)"
    if name != name.strip():
        return "starts or ends with white space"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes (UTF-8): file names built from it would be too long"
    return None


def _disk_key(name: str) -> str:
    """How a case-insensitive, Unicode-normalising file system compares ``name``."""
    return unicodedata.normalize("NFC", name).casefold()


def first_bad_name(names: Iterable[object], what: str) -> tuple[object, str] | None:
    """The first unsafe name and a one-line message, or None when every name is safe and none collide.

    ``what`` says what the names are, e.g. ``"class name"`` or ``"method name"``.
    """
    seen: dict[str, str] = {}
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            return name, (f"{what} {name!r} {problem}; names become file names, so each must be one plain "
                          "path component (letters, digits, spaces, '-', '_', '.' inside)")
        key = _disk_key(name)
        if key in seen:
            return name, (f"{what}s {seen[key]!r} and {name!r} differ only by case or Unicode form: their files "
                          "would overwrite each other on a case-insensitive file system; rename one")
        seen[key] = name
    return None


def check_names(names: Iterable[object], what: str) -> None:
    """Raise :class:`SeqlrpError` with :func:`first_bad_name`'s message for an unsafe name."""
    bad = first_bad_name(names, what)
    if bad is not None:
        raise SeqlrpError(bad[1])

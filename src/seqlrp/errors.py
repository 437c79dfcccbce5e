"""Errors that reach the user as one line: the file, the line and the problem."""

from __future__ import annotations

import errno
import os


class SeqlrpError(Exception):
    """A problem with the user's input or configuration; shown as one line, never a traceback."""


class InputError(SeqlrpError):
    """Bad content in an input file.

    ``str(err)`` reads ``path:line: problem`` (``path: problem`` when no line applies), the
    convention of compilers and of most bioinformatics tools, so editors can jump to it.
    """

    def __init__(self, path: str | os.PathLike | None, problem: str, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.problem = problem
        where = self.path or "<input>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {problem}")


class OutputError(SeqlrpError):
    """An output could not be written (disk full, quota, no permission); ``path: problem``."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {problem}")


# errno -> what the user can do about it
_WRITE_ADVICE = {
    errno.ENOSPC: "no space left on the device; free space and rerun (nothing was written)",
    errno.EDQUOT: "disk quota exceeded; free space and rerun (nothing was written)",
    errno.EFBIG: "file too large for this file system or the process's file size limit (nothing was written)",
    errno.EACCES: "permission denied; make the output directory writable and rerun",
    errno.EPERM: "operation not permitted; make the output directory writable and rerun",
    errno.EROFS: "the file system is read-only; write the results elsewhere (snakemake --directory)",
}


def output_error(path: str | os.PathLike, err: OSError) -> OutputError | None:
    """The one-line error for a failed write of ``path``, or None when ``err`` is not about writing."""
    advice = _WRITE_ADVICE.get(err.errno)
    return None if advice is None else OutputError(path, f"cannot write: {advice}")

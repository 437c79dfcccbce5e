"""Errors that reach the user as one line: the file, the line and the problem."""

from __future__ import annotations

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

"""One-line error text shared by the model-file loaders."""

from __future__ import annotations


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__

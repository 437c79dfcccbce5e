"""Glue between Snakemake ``script:`` entries and the package: logging and one-line errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from .errors import SeqlrpError


def setup_logging(log_path: str | None = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to the rule's ``log:`` file (Snakemake does not fill it)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)


def run_stage(snakemake, main: Callable[[object], object]) -> None:
    """Run ``main(snakemake)`` with logging set up; a :class:`SeqlrpError` ends in one line, exit 1."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    setup_logging(log_path)
    try:
        main(snakemake)
    except SeqlrpError as err:
        line = f"seqlrp: error: {err}"
        logging.shutdown()
        if log_path:
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        print(line, file=sys.stderr)
        sys.exit(1)

"""Glue between Snakemake ``script:`` entries and the package: logging and one-line errors."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from ..errors import SeqlrpError, output_error
from ..formats.atomic import remove_stale_temporaries


def setup_logging(log_path: str | None = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to the rule's ``log:`` file (Snakemake does not fill it)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        handlers.append(logging.FileHandler(log_path, mode="w", encoding="utf-8"))
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True)


def run_stage(snakemake, main: Callable[[object], object]) -> None:
    """Run ``main(snakemake)`` with logging set up; a :class:`SeqlrpError` or a file-system error
    (disk full, no permission, ...) ends in one line on stderr and in the log, exit status 1."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    try:
        setup_logging(log_path)
        clean_up_after_kill(snakemake.output)
        gpus = _requested_gpus(snakemake)
        if gpus > 0:  # torch is imported only by jobs that use it
            from ..models.device import warn_gpu_fallback

            warn_gpu_fallback(gpus)
        main(snakemake)
    except SeqlrpError as err:
        _fail(f"seqlrp: error: {err}", log_path)
    except OSError as err:
        where = err.filename or "output"
        _fail(f"seqlrp: error: {output_error(where, err) or f'{where}: {err.strerror or err}'}", log_path)


def _requested_gpus(snakemake) -> int:
    """The ``gpu`` resource the job was given (0 when it asked for none)."""
    try:
        return int(getattr(getattr(snakemake, "resources", None), "gpu", 0) or 0)
    except (TypeError, ValueError):
        return 0


def clean_up_after_kill(outputs) -> int:
    """Remove the temporary files a killed earlier run of this job left beside its outputs."""
    removed = [tmp for output in outputs for tmp in remove_stale_temporaries(output)]
    if removed:
        logging.getLogger(__name__).warning(
            "removed %d temporary file(s) left by an interrupted earlier run: %s", len(removed),
            ", ".join(str(path) for path in removed[:5]) + (" ..." if len(removed) > 5 else ""))
    return len(removed)


def _fail(line: str, log_path: str | None) -> None:
    logging.shutdown()
    if log_path:
        try:
            with open(log_path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        except OSError:
            pass  # the log itself is unwritable (full disk, no permission): stderr still has the line
    print(line, file=sys.stderr)
    sys.exit(1)

"""Provenance of a run: package versions, file hashes and sizes, the compute device."""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from . import __version__

# distributions whose versions the report lists (pip names)
PACKAGES = ("torch", "numpy", "snakemake", "pysam", "pyjaspar", "modisco-lite", "pandas",
            "memelite", "logomaker", "matplotlib", "PyYAML", "jsonschema")


def versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """``{name: version}``: Python, seqlrp, then ``packages`` ("not installed" when absent)."""
    found = {"python": f"{platform.python_version()} ({platform.python_implementation()}, {platform.system()} "
                       f"{platform.machine()})",
             "seqlrp": __version__}
    for name in packages:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class FileInfo:
    """A file's path, size in bytes (None when missing) and SHA-256 (None when missing or not hashed)."""

    path: str
    size: int | None
    sha256: str | None


def file_info(path: str | os.PathLike, hash_limit: int | None) -> FileInfo:
    """Size and, for files of at most ``hash_limit`` bytes (None: any size), the SHA-256 of ``path``."""
    p = Path(path)
    if not p.is_file():
        return FileInfo(os.fspath(path), None, None)
    size = p.stat().st_size
    digest = sha256_file(p) if hash_limit is None or size <= hash_limit else None
    return FileInfo(os.fspath(path), size, digest)


def human_size(size: int | None) -> str:
    """``1.2 MiB``-style size; ``–`` for None."""
    if size is None:
        return "–"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def host_devices() -> str:
    """The accelerators torch sees on this machine, e.g. ``CUDA: 1 x NVIDIA H100`` or ``CPU only``."""
    import torch

    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        return f"CUDA {torch.version.cuda}: " + ", ".join(names)
    return f"CPU only ({os.cpu_count()} logical cores; torch sees no CUDA device)"

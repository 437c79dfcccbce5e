"""igv.js for the offline browser page: one pinned version from the npm registry, installed once.

The page (:mod:`seqlrp.report.browser_page`) embeds igv.js itself, so it opens from ``file://``
with no network. igv.js is not shipped in this repository; ``make venv`` (or ``python -m
seqlrp.report.igv_bundle install``) takes the npm package ``igv`` at :data:`IGV_VERSION` from the
npm registry, checks its SHA-512 against the ``integrity`` the registry published for that version
(:data:`IGV_INTEGRITY`), and keeps ``dist/igv.min.js``, ``LICENSE`` (MIT) and ``package.json`` in
:func:`bundle_dir` (``<venv>/share/seqlrp/igv-<version>/``, or ``$SEQLRP_IGV_DIR``). A machine without
internet installs from a tarball fetched elsewhere (``npm pack igv@3.8.10``):
``python -m seqlrp.report.igv_bundle install --tarball igv-3.8.10.tgz``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

IGV_VERSION = "3.8.10"
IGV_TARBALL_URL = f"https://registry.npmjs.org/igv/-/igv-{IGV_VERSION}.tgz"
# the npm registry's `dist.integrity` of igv 3.8.10 (SHA-512 of the tarball, base64)
IGV_INTEGRITY = "sha512-foqT9SJHoKvVXl7euYUsOy7XMs1nTrPeJMQbGRp7qWU7a6HzF345FER/nHUTdsL5cumaoAe19gDmJYsEHO08rw=="
# tarball member -> file kept in the bundle folder
MEMBERS = {"package/dist/igv.min.js": "igv.min.js", "package/LICENSE": "LICENSE", "package/package.json": "package.json"}
ENV_DIR = "SEQLRP_IGV_DIR"


class IgvNotInstalled(RuntimeError):
    """igv.js is missing from :func:`bundle_dir`; the message says how to install it."""


@dataclass(frozen=True)
class IgvBundle:
    """igv.js's code and its licence text, as the page embeds them."""

    version: str
    script: str
    license: str


def bundle_dir() -> Path:
    """Where the pinned igv.js lives: ``$SEQLRP_IGV_DIR``, else ``<sys.prefix>/share/seqlrp/igv-<version>``."""
    override = os.environ.get(ENV_DIR)
    if override:
        return Path(override)
    return Path(sys.prefix) / "share" / "seqlrp" / f"igv-{IGV_VERSION}"


def check_integrity(data: bytes, integrity: str = IGV_INTEGRITY) -> None:
    """Raise ValueError unless ``data`` has the SHA-512 of an npm ``integrity`` string."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise ValueError(f"unsupported integrity algorithm {algorithm!r}")
    digest = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if digest != expected:
        raise ValueError(f"igv-{IGV_VERSION}.tgz does not have the SHA-512 the npm registry published "
                         f"(expected {expected}, got {digest}): a damaged download or another version")


def install(tarball: str | os.PathLike | None = None, destination: str | os.PathLike | None = None) -> Path:
    """Install igv.js into ``destination`` (default :func:`bundle_dir`) from the npm registry, or from
    a local ``tarball``; a no-op when it is already there. Returns the folder."""
    destination = Path(destination) if destination is not None else bundle_dir()
    if all((destination / name).is_file() for name in MEMBERS.values()):
        return destination
    if tarball is None:
        with urllib.request.urlopen(IGV_TARBALL_URL, timeout=120) as response:  # noqa: S310 (a fixed https URL)
            data = response.read()
    else:
        data = Path(tarball).read_bytes()
    check_integrity(data)
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, name in MEMBERS.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise ValueError(f"igv-{IGV_VERSION}.tgz has no file {member}")
            handle, temporary = tempfile.mkstemp(dir=destination, prefix=f".{name}.", suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(extracted.read())
            os.replace(temporary, destination / name)
    return destination


def load(directory: str | os.PathLike | None = None) -> IgvBundle:
    """The installed igv.js and its licence; :class:`IgvNotInstalled` with the command to run when missing."""
    directory = Path(directory) if directory is not None else bundle_dir()
    script, license_file = directory / "igv.min.js", directory / "LICENSE"
    if not (script.is_file() and license_file.is_file() and (directory / "package.json").is_file()):
        raise IgvNotInstalled(f"{script}: igv.js {IGV_VERSION} is not installed; run `make venv` or "
                              f"`python -m seqlrp.report.igv_bundle install` (needs the npm registry once; "
                              f"offline: `--tarball igv-{IGV_VERSION}.tgz` from `npm pack igv@{IGV_VERSION}`)")
    manifest = directory / "package.json"
    try:
        version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        version = None
    if version != IGV_VERSION:
        raise IgvNotInstalled(f"{manifest}: igv.js {version or '(unknown version)'} is installed there, the page needs "
                              f"{IGV_VERSION}; run `python -m seqlrp.report.igv_bundle install --dir {directory}` "
                              f"after removing the folder")
    return IgvBundle(IGV_VERSION, script.read_text(encoding="utf-8"), license_file.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m seqlrp.report.igv_bundle", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    install_command = commands.add_parser("install", help=f"install igv.js {IGV_VERSION} (npm registry or --tarball)")
    install_command.add_argument("--tarball", help=f"a local igv-{IGV_VERSION}.tgz (npm pack igv@{IGV_VERSION})")
    install_command.add_argument("--dir", help=f"install here instead of {bundle_dir()}")
    commands.add_parser("where", help="print the folder igv.js is read from")
    args = parser.parse_args(argv)
    if args.command == "where":
        print(bundle_dir())
        return 0
    try:
        folder = install(args.tarball, args.dir)
    except (OSError, ValueError) as error:
        print(f"igv.js {IGV_VERSION} not installed: {error}", file=sys.stderr)
        return 1
    print(f"igv.js {IGV_VERSION} in {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

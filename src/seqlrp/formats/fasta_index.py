"""The ``.fai``/``.gzi`` index of a genome FASTA: found, checked against the file, rebuilt if stale.

htslib trusts whatever index lies beside a FASTA. One written before the FASTA was edited or
re-wrapped makes it return wrong bases without a word (plain FASTA) or fail deep inside
(bgzip). So an index is used only when it passes :func:`index_problem`:

* it is not older than the FASTA (``st_mtime_ns``; the only check that sees a base changed in
  place);
* per contig, in file order (coordinates: byte offsets into the *uncompressed* FASTA, 0-based):
  the bytes from the end of the previous contig up to the entry's offset are blank lines and
  one ``>`` header line whose first word is the contig's name; the first line ends after
  ``linebases`` bases with the line terminator ``linewidth - linebases`` implies; the contig's
  last base, where the line layout puts it, is a base inside the file followed by a line end
  or the end of the file;
* after the last contig only blank lines remain;
* for bgzip, the ``.gzi`` (``(compressed, uncompressed)`` offsets of every block start but the
  first) names exactly the file's blocks.

That costs a few small reads per contig (O(contigs) seeks, never a full read). A bgzip FASTA
is also walked block by block on *every* open, one 22-byte read per ~64 KB block (the ISIZE
of a block and the header of the next), because the ``.gzi`` check needs the block table and
because a truncated download must be refused even when a valid-looking index lies beside it:
a block that runs past the end of the file, or a missing BGZF end-of-file marker, is an
:class:`~seqlrp.errors.InputError` naming the genome, raised before any index is written.

A missing or stale index is rebuilt by htslib (``samtools faidx --fai-idx/--gzi-idx``) into
a directory of seqlrp's, never beside the genome (which may be read-only or shared), under
``{genome name}.{hash of its absolute path}.fai``/``.gzi``: built in a scratch directory
there and renamed into place, so an interrupted or refused run leaves nothing half-written.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import mmap
import os
import shutil
import struct
import tempfile
from array import array
from dataclasses import dataclass
from pathlib import Path

import pysam
from isal import isal_zlib

from ..errors import InputError, output_error
from .bgzf import EOF_BLOCK

log = logging.getLogger(__name__)

_REFETCH = "the download or copy was cut short; fetch it again"
_MAX_HEADER = 1 << 16  # bytes between two contigs' sequences (blank lines + header) taken as plausible
_MAX_TRAILER = 1 << 12  # blank bytes allowed after the last contig


@dataclass(frozen=True)
class FastaIndex:
    """Paths of a FASTA's index: ``fai``, and ``gzi`` for bgzip (None for a plain FASTA)."""

    fai: Path
    gzi: Path | None

    def files(self) -> list[Path]:
        return [self.fai] if self.gzi is None else [self.fai, self.gzi]


# --- BGZF block table ----------------------------------------------------------------------------


@dataclass
class BgzfBlocks:
    """Block starts of a BGZF file: compressed offsets and uncompressed sizes, in file order."""

    cstarts: array
    isizes: array
    ustarts: array  # uncompressed offset of each block's first byte
    size: int  # compressed file size

    @property
    def total(self) -> int:
        return self.ustarts[-1] + self.isizes[-1]


def _truncated(path: Path, why: str) -> InputError:
    return InputError(path, f"truncated bgzip file ({why}): {_REFETCH}")


def _block_size(fd: int, path: Path, head: bytes, pos: int, size: int) -> int:
    """BSIZE + 1 of the block whose first bytes ``head`` were read at ``pos`` (from its 'BC' field)."""
    if len(head) < 18:
        raise _truncated(path, f"the BGZF block at byte {pos} runs past the end of the file at byte {size}")
    if head[:4] != b"\x1f\x8b\x08\x04":
        raise InputError(path, f"corrupt bgzip file (no BGZF block header at byte {pos}): {_REFETCH}")
    xlen = struct.unpack_from("<H", head, 10)[0]
    extra = head[12:18] if xlen == 6 else os.pread(fd, xlen, pos + 12)
    if len(extra) < xlen:
        raise _truncated(path, f"the BGZF block at byte {pos} runs past the end of the file at byte {size}")
    at = 0
    while at + 4 <= xlen:
        sub, slen = extra[at : at + 2], struct.unpack_from("<H", extra, at + 2)[0]
        if sub == b"BC" and slen == 2:
            return struct.unpack_from("<H", extra, at + 4)[0] + 1
        at += 4 + slen
    raise InputError(path, f"corrupt bgzip file (the block at byte {pos} has no BGZF size field)")


def bgzf_blocks(path: Path) -> BgzfBlocks:
    """Walk the block headers of BGZF file ``path``; refuse it when truncated or corrupt."""
    cstarts, isizes = array("q"), array("q")
    with open(path, "rb", buffering=0) as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        pos, head = 0, os.pread(fd, 18, 0)
        while True:
            end = pos + _block_size(fd, path, head, pos, size)
            if end > size:
                raise _truncated(path, f"the BGZF block at byte {pos} runs past the end of the file at byte {size}")
            cstarts.append(pos)
            if end == size:
                isizes.append(struct.unpack("<I", os.pread(fd, 4, end - 4))[0])
                break
            chunk = os.pread(fd, 22, end - 4)  # ISIZE of this block + header of the next
            isizes.append(struct.unpack_from("<I", chunk)[0])
            pos, head = end, chunk[4:]
        if size < len(EOF_BLOCK) or os.pread(fd, len(EOF_BLOCK), size - len(EOF_BLOCK)) != EOF_BLOCK:
            raise _truncated(path, "no BGZF end-of-file marker")
    ustarts, total = array("q"), 0
    for isize in isizes:
        ustarts.append(total)
        total += isize
    return BgzfBlocks(cstarts, isizes, ustarts, size)


# --- readers of the uncompressed bytes -----------------------------------------------------------


class _PlainReader:
    """Bytes of a plain file by offset, through a read-only memory map (no system call per read)."""

    def __init__(self, fd: int):
        self.size = os.fstat(fd).st_size
        self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if self.size else b""

    def read(self, offset: int, n: int) -> bytes:
        return self._map[offset : offset + n]

    def close(self) -> None:
        if isinstance(self._map, mmap.mmap):
            self._map.close()


class _BgzfReader:
    """Uncompressed bytes of a BGZF file by offset; the last few blocks inflated stay cached."""

    def __init__(self, fd: int, blocks: BgzfBlocks, path: Path):
        self.fd, self.blocks, self.size, self.path = fd, blocks, blocks.total, path
        self._cache: dict[int, bytes] = {}

    def _block(self, k: int) -> bytes:
        if k not in self._cache:
            b = self.blocks
            end = b.cstarts[k + 1] if k + 1 < len(b.cstarts) else b.size
            self._cache = dict(list(self._cache.items())[-3:])
            try:
                self._cache[k] = isal_zlib.decompress(os.pread(self.fd, end - b.cstarts[k], b.cstarts[k]), 31)
            except isal_zlib.error as err:
                raise InputError(self.path, f"corrupt bgzip file (the BGZF block at byte {b.cstarts[k]} does not "
                                            f"decompress: {err}): {_REFETCH}") from None
        return self._cache[k]

    def close(self) -> None:
        pass

    def read(self, offset: int, n: int) -> bytes:
        out = bytearray()
        ustarts = self.blocks.ustarts
        while n > 0 and offset < self.size:
            k = bisect.bisect_right(ustarts, offset) - 1
            piece = self._block(k)[offset - ustarts[k] : offset - ustarts[k] + n]
            if not piece:  # an empty block (bisect lands on the last block with this start)
                break
            out += piece
            offset, n = offset + len(piece), n - len(piece)
        return bytes(out)


# --- checks --------------------------------------------------------------------------------------


def _read_fai(fai: Path) -> list[tuple[str, int, int, int, int]] | str:
    entries = []
    with open(fai, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            fields = line.rstrip("\n").split("\t")
            try:
                name, length, offset, linebases, linewidth = fields[0], *map(int, fields[1:5])
            except ValueError:
                return f"unreadable line {number}"
            entries.append((name, length, offset, linebases, linewidth))
    return entries if entries else "it lists no contig"


def _layout_problem(entries, reader) -> str | None:
    """Why the .fai ``entries`` do not fit the bytes of ``reader``, or None when they do."""
    end = 0  # first byte after the previous contig's last line
    for name, length, offset, linebases, linewidth in sorted(entries, key=lambda e: e[2]):
        span = offset - end
        head = reader.read(end, span) if 0 < span <= _MAX_HEADER else b""
        lines = head.split(b"\n")
        header = lines[-2].rstrip(b"\r") if len(lines) >= 2 else b""
        words = header[1:].split()
        if (not head.endswith(b"\n") or not header.startswith(b">") or not words
                or words[0].decode(errors="replace") != name
                or any(x.strip() and not x.startswith(b">") for x in lines[:-2])):  # blank lines, empty records
            return f"contig {name!r} does not start after a '>{name}' header line at byte {offset}"
        if length <= 0:
            end = offset
            continue
        eol = b"\n" if linewidth - linebases == 1 else b"\r\n" if linewidth - linebases == 2 else None
        if linebases <= 0 or eol is None:
            return f"contig {name!r} has an impossible line layout ({linebases} bases in {linewidth} bytes)"
        if length > linebases:
            first = reader.read(offset + linebases - 1, 1 + len(eol))
            if first[:1] in b"\r\n>" or first[1:] != eol:
                return f"contig {name!r} does not have {linebases} bases per line any more"
        last = offset + (length - 1) // linebases * linewidth + (length - 1) % linebases
        if last >= reader.size:
            return f"contig {name!r} ({length} bp) would end past the end of the file"
        tail = reader.read(last, 1 + len(eol))
        rest = tail[1:]
        if tail[:1] in b"\r\n>" or not (rest == eol or (eol.startswith(rest) and last + len(tail) == reader.size)):
            return f"contig {name!r} does not end after {length} bp where the index says"
        end = last + len(tail)
    trailing = reader.size - end
    if trailing > _MAX_TRAILER or reader.read(end, trailing).strip():
        return "the FASTA goes on after the last indexed contig"
    return None


def _gzi_problem(gzi: Path, blocks: BgzfBlocks) -> str | None:
    data = gzi.read_bytes()
    count = struct.unpack_from("<Q", data)[0] if len(data) >= 8 else -1
    if count < 0 or len(data) != 8 + 16 * count:
        return f"{gzi.name} is not a .gzi index"
    listed = set(struct.iter_unpack("<QQ", data[8:]))
    pairs = list(zip(blocks.cstarts[1:], blocks.ustarts[1:], blocks.isizes[1:]))
    every = {(c, u) for c, u, _ in pairs}
    needed = {(c, u) for c, u, isize in pairs if isize}
    if not listed <= every or not needed <= listed:
        return f"{gzi.name} does not match the file's BGZF blocks"
    return None


def index_problem(fasta: Path, index: FastaIndex, blocks: BgzfBlocks | None) -> str | None:
    """Why ``index`` is missing or does not fit ``fasta`` (one short phrase), or None when it fits.

    ``blocks`` is the BGZF block table of a bgzip ``fasta`` (None for a plain one).
    """
    fasta_mtime = fasta.stat().st_mtime_ns
    for path in index.files():
        if not path.is_file():
            return f"{path.name} is missing"
        if path.stat().st_mtime_ns < fasta_mtime:
            return f"{path.name} is older than {fasta.name}"
    try:
        entries = _read_fai(index.fai)
    except OSError as err:
        entries = f"cannot be read ({err.strerror or err})"
    if isinstance(entries, str):
        return f"{index.fai.name}: {entries}"
    if blocks is not None:
        try:
            problem = _gzi_problem(index.gzi, blocks)
        except OSError as err:
            problem = f"{index.gzi.name} cannot be read ({err.strerror or err})"
        if problem:
            return problem
    with open(fasta, "rb", buffering=0) as handle:
        reader = _PlainReader(handle.fileno()) if blocks is None else _BgzfReader(handle.fileno(), blocks, fasta)
        try:
            return _layout_problem(entries, reader)
        finally:
            reader.close()


# --- finding and building ------------------------------------------------------------------------


def owned_index(fasta: Path, index_dir: Path, bgzip: bool) -> FastaIndex:
    """Where seqlrp keeps its own index of ``fasta`` in ``index_dir`` (name + hash of the absolute path)."""
    digest = hashlib.sha256(str(fasta.resolve()).encode()).hexdigest()[:10]
    stem = index_dir / f"{fasta.name}.{digest}"
    return FastaIndex(Path(f"{stem}.fai"), Path(f"{stem}.gzi") if bgzip else None)


def build_index(fasta: Path, index: FastaIndex) -> None:
    """Build ``index`` of ``fasta`` with htslib in a scratch directory beside ``index``, then rename it into place."""
    directory = index.fai.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".build.", dir=directory))
    except OSError as err:
        raise (output_error(directory, err) or err) from err
    try:
        fai, gzi = scratch / "index.fai", scratch / "index.gzi"
        args = [str(fasta), "--fai-idx", str(fai)] + ([] if index.gzi is None else ["--gzi-idx", str(gzi)])
        try:
            pysam.faidx(*args)
        except pysam.utils.SamtoolsError:  # htslib has printed what and where to stderr
            raise InputError(fasta, "cannot index FASTA: htslib refused it (its message just above names the "
                                    "problem and the line); is it a FASTA file?") from None
        if index.gzi is not None:
            os.replace(gzi, index.gzi)
        os.replace(fai, index.fai)
    except OSError as err:
        raise (output_error(index.fai, err) or err) from err
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def locate_index(fasta: Path, index_dir: Path, bgzip: bool) -> FastaIndex:
    """The index to open ``fasta`` with: the one beside it if it fits, else seqlrp's own in ``index_dir``.

    A bgzip ``fasta`` is refused first when truncated (nothing is written then). The index in
    ``index_dir`` is reused only when it fits too, and rebuilt otherwise. A stale index beside
    the genome is reported by one WARNING line (why, and where the rebuilt one is).
    """
    blocks = bgzf_blocks(fasta) if bgzip else None
    beside = FastaIndex(Path(f"{fasta}.fai"), Path(f"{fasta}.gzi") if bgzip else None)
    exists = beside.fai.exists()
    problem = index_problem(fasta, beside, blocks)
    if problem is None:
        return beside
    own = owned_index(fasta, index_dir, bgzip)
    rebuilt = index_problem(fasta, own, blocks) is not None
    if rebuilt:
        build_index(fasta, own)
    if exists:
        log.warning("%s: the index beside the genome is stale (%s), so it is not used; %s", beside.fai, problem,
                    f"rebuilt it as {own.fai}" if rebuilt else f"using {own.fai}, rebuilt earlier")
    elif rebuilt:
        log.info("%s: no index beside the genome; built one as %s", fasta, own.fai)
    return own

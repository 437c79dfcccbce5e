"""A BGZF writer that compresses blocks on several threads.

BGZF (the SAM/BAM specification, section 4.1) is a series of gzip members of at most 64 KiB,
each carrying its own size in a ``BC`` extra field, closed by a fixed empty block; htslib
(``tabix``, ``samtools``, pysam) reads it with random access. Blocks are independent, so they
compress in parallel: zlib releases the GIL. pysam's own writer (``pysam.BGZFile``) uses one
thread, which caps a genome-wide bedGraph at a few million lines per second.
"""

from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

BLOCK_INPUT = 0xFF00  # bytes of input per block, as bgzip
_MAX_BLOCK = 1 << 16
_HEADER = struct.Struct("<4BI2BH2BHH")  # magic, CM, FLG, MTIME, XFL, OS, XLEN, 'B','C', SLEN, BSIZE
EOF_BLOCK = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def compress_block(data: bytes, level: int) -> bytes:
    """One BGZF block for ``data`` (at most :data:`BLOCK_INPUT` bytes)."""
    deflater = zlib.compressobj(level, zlib.DEFLATED, -15)
    payload = deflater.compress(data) + deflater.flush()
    if len(payload) + 26 > _MAX_BLOCK:  # incompressible: store it
        deflater = zlib.compressobj(0, zlib.DEFLATED, -15)
        payload = deflater.compress(data) + deflater.flush()
    size = len(payload) + 26
    header = _HEADER.pack(0x1F, 0x8B, 8, 4, 0, 0, 0xFF, 6, 66, 67, 2, size - 1)
    return header + payload + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


class BgzfWriter:
    """Write bytes to ``path`` as BGZF; ``threads`` compress blocks side by side.

    Data is buffered and compressed in batches of ``threads * 16`` blocks, written in order.
    A batch is submitted and the previous one collected, so compression overlaps the caller's
    work on the next data.
    """

    def __init__(self, path: str | os.PathLike, level: int = 6, threads: int = 2):
        self._handle: BinaryIO = open(path, "wb")
        self._level = level
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads))
        self._batch = max(1, threads) * 16 * BLOCK_INPUT
        self._buffer = bytearray()
        self._pending: list = []

    def write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._batch:
            whole = len(self._buffer) - len(self._buffer) % BLOCK_INPUT
            self._flush(bytes(self._buffer[:whole]))
            del self._buffer[:whole]

    def _flush(self, data: bytes) -> None:
        submitted = [self._pool.submit(compress_block, data[i : i + BLOCK_INPUT], self._level)
                     for i in range(0, len(data), BLOCK_INPUT)]
        self._collect()
        self._pending = submitted

    def _collect(self) -> None:
        for future in self._pending:
            self._handle.write(future.result())
        self._pending = []

    def close(self) -> None:
        if self._handle.closed:
            return
        try:
            if self._buffer:
                self._flush(bytes(self._buffer))
                self._buffer.clear()
            self._collect()
            self._handle.write(EOF_BLOCK)
        finally:
            self._pool.shutdown()
            self._handle.close()

    def __enter__(self) -> "BgzfWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

"""Tabix (.tbi) index of a BGZF text file, built while the file is written.

``pysam.tabix_index`` reads the whole file back and decompresses it; the writer already knows
every line's chromosome, start, end and byte offset, so the index is built from those instead.
The content follows htslib's indexer (``tbx_index`` / ``hts_idx_push`` / ``hts_idx_finish``
in htslib 1.x; format: the SAM/BAM specification, section 5.2, and the tabix paper):

- bins: UCSC binning (``reg2bin``, 14-bit smallest bin, 5 levels); each bin holds chunks of
  virtual offsets covering runs of consecutive lines in that bin; a bin whose chunks span less
  than 64 KiB of compressed file moves into its parent (when that exists), and chunks that meet
  in one BGZF block merge;
- pseudo-bin 37450 per reference: (first, end) virtual offsets and (lines, 0);
- linear index: per 16 kb window the virtual offset of the first line overlapping it; an empty
  window takes the next window's (current htslib; old versions took the previous window's,
  which readers accept as well: any value up to the first line reaching the window is valid).

Bins are written in ascending order; htslib writes them in its hash table's order, which
readers do not depend on (they load bins into a hash), so the decompressed bytes can differ
from ``pysam.tabix_index``'s while :func:`parse_tbi` of both is equal.
Coordinates are 0-based, half-open (the ``zerobased`` / UCSC flag is set).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import numpy as np

MIN_SHIFT, N_LEVELS = 14, 5
MAX_POSITION = 1 << (MIN_SHIFT + 3 * N_LEVELS)  # 2**29: the largest end a .tbi can hold
N_BINS = ((1 << (3 * N_LEVELS + 3)) - 1) // 7  # 37449
META_BIN = N_BINS + 1  # 37450
_MIN_MARKER_DIST = 0x10000
TBX_GENERIC, TBX_UCSC = 0, 0x10000


def _level_first(level: int) -> int:
    """First bin number of ``level`` (0 = the whole reference ... 5 = 16 kb bins)."""
    return ((1 << (3 * level)) - 1) // 7


def reg2bin(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """UCSC bin (int64) of each interval ``[start, end)``, ``end > start``: the smallest bin holding it."""
    starts = np.asarray(starts, dtype=np.int64)
    last = np.asarray(ends, dtype=np.int64) - 1
    bins = np.zeros(starts.shape, dtype=np.int64)
    unset = np.ones(starts.shape, dtype=bool)
    shift = MIN_SHIFT
    for level in range(N_LEVELS, 0, -1):
        first = starts >> shift
        here = unset & (first == last >> shift)
        bins[here] = _level_first(level) + first[here]
        unset &= ~here
        if not unset.any():
            break
        shift += 3
    return bins


class TabixIndexBuilder:
    """Collect lines' bins, chunks and linear index as they are written; serialise with :meth:`to_bytes`.

    Offsets given to :meth:`add` are *uncompressed* byte offsets into the text; :meth:`to_bytes`
    turns them into virtual offsets with the BGZF writer's mapping. ``line_skip`` header lines
    precede the first interval. Columns: chrom 1, start 2, end 3 (1-based, as tabix counts).
    """

    def __init__(self, line_skip: int = 0, meta_char: str = "#"):
        self._line_skip = line_skip
        self._meta_char = meta_char
        self._names: list[str] = []
        self._seen: set[str] = set()
        self._refs: list[dict] = []  # per reference: chunk arrays, linear index, meta
        self._current: dict | None = None

    def check(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> None:
        """Raise ValueError unless the intervals may follow what was added (see :meth:`add`)."""
        if starts.size == 0:
            return
        if "\t" in chrom or "\n" in chrom or not chrom or chrom.startswith(self._meta_char):
            raise ValueError(f"chromosome name {chrom!r} is empty, holds a tab or newline or starts with "
                             f"{self._meta_char!r} (tabix skips such lines)")
        previous_end = -1
        if self._current is not None and self._names[-1] == chrom:
            previous_end = self._current["last_end"]
        elif chrom in self._seen:
            raise ValueError(f"{chrom}: intervals of a chromosome must come together, it came back after {self._names[-1]}")
        if starts[0] < previous_end or (starts[1:] < ends[:-1]).any():
            raise ValueError(f"{chrom}: intervals must be sorted by start and must not overlap")
        if starts.min() < 0 or (ends <= starts).any():
            raise ValueError(f"{chrom}: intervals need 0 <= start < end")
        if ends[-1] > MAX_POSITION:  # ends ascend: the last is the largest
            raise ValueError(f"{chrom}: end {int(ends[-1])} beyond {MAX_POSITION}, the largest a .tbi index holds")

    def add(self, chrom: str, starts: np.ndarray, ends: np.ndarray, offsets: np.ndarray) -> None:
        """Index intervals ``starts``/``ends`` (n,) of ``chrom``, line ``i`` at ``offsets[i]:offsets[i+1]``.

        ``offsets`` (n + 1,) int64 uncompressed byte offsets. Intervals must be sorted by start,
        not overlap, continue the chromosome last added or open one not seen before
        (ValueError otherwise).
        """
        starts = np.asarray(starts, dtype=np.int64)
        ends = np.asarray(ends, dtype=np.int64)
        offsets = np.asarray(offsets, dtype=np.int64)
        if starts.size == 0:
            return
        self.check(chrom, starts, ends)
        if self._current is None or self._names[-1] != chrom:
            self._finish_reference(int(offsets[0]))
            self._names.append(chrom)
            self._seen.add(chrom)
            self._current = {"bins": [], "begins": [], "ends": [], "open_bin": -1, "open_begin": int(offsets[0]),
                             "linear": np.full(0, -1, dtype=np.int64), "first": int(offsets[0]), "lines": 0}
        ref = self._current
        bins = reg2bin(starts, ends)
        # a chunk is a run of consecutive lines in one bin; the last run stays open for the next call
        change = np.flatnonzero(bins[1:] != bins[:-1]) + 1
        if bins[0] != ref["open_bin"]:
            if ref["open_bin"] >= 0:
                ref["bins"].append(np.array([ref["open_bin"]]))
                ref["begins"].append(np.array([ref["open_begin"]]))
                ref["ends"].append(offsets[:1].copy())  # a view would keep the whole array alive
            ref["open_begin"] = int(offsets[0])
        ref["bins"].append(bins[change - 1])
        ref["begins"].append(np.concatenate([[ref["open_begin"]], offsets[change[:-1]]]) if change.size else np.empty(0, np.int64))
        ref["ends"].append(offsets[change])
        if change.size:
            ref["open_begin"] = int(offsets[change[-1]])
        ref["open_bin"] = int(bins[-1])
        self._add_linear(ref, starts, ends, offsets[:-1])
        ref["lines"] += starts.size
        ref["last_end"] = int(ends[-1])
        ref["end"] = int(offsets[-1])

    @staticmethod
    def _add_linear(ref: dict, starts: np.ndarray, ends: np.ndarray, line_offsets: np.ndarray) -> None:
        first_window = starts >> MIN_SHIFT
        last_window = (ends - 1) >> MIN_SHIFT
        windows = np.arange(first_window[0], last_window[-1] + 1)
        # lines are sorted and disjoint: the first line reaching a window is the first whose last window >= it
        line = np.searchsorted(last_window, windows, side="left")
        covered = first_window[line] <= windows
        linear = ref["linear"]
        if linear.size <= windows[-1]:
            linear = ref["linear"] = np.concatenate([linear, np.full(windows[-1] + 1 - linear.size, -1, dtype=np.int64)])
        windows, line = windows[covered], line[covered]
        unset = linear[windows] < 0
        linear[windows[unset]] = line_offsets[line[unset]]

    def _finish_reference(self, end: int) -> None:
        ref = self._current
        if ref is None:
            return
        ref["bins"].append(np.array([ref["open_bin"]]))
        ref["begins"].append(np.array([ref["open_begin"]]))
        ref["ends"].append(np.array([end]))
        self._refs.append({"bins": np.concatenate(ref["bins"]), "begins": np.concatenate(ref["begins"]),
                           "ends": np.concatenate(ref["ends"]), "linear": ref["linear"], "first": ref["first"],
                           "end": end, "lines": ref["lines"]})
        self._current = None

    def to_bytes(self, virtual_offsets: Callable[[np.ndarray], np.ndarray]) -> bytes:
        """The uncompressed .tbi content; ``virtual_offsets`` maps uncompressed offsets (int64 array) to uint64.

        Call once, after the last :meth:`add` and after the data file is complete.
        """
        if self._current is not None:
            self._finish_reference(self._current["end"])
        names = b"".join(name.encode("ascii") + b"\0" for name in self._names)
        header = struct.pack("<4s8i", b"TBI\1", len(self._names), TBX_GENERIC | TBX_UCSC, 1, 2, 3,
                             ord(self._meta_char), self._line_skip, len(names))
        parts = [header, names]
        for ref in self._refs:
            parts.append(_reference_bytes(ref, virtual_offsets))
        parts.append(struct.pack("<Q", 0))  # n_no_coor: no unplaced lines
        return b"".join(parts)


def _reference_bytes(ref: dict, virtual_offsets: Callable[[np.ndarray], np.ndarray]) -> bytes:
    """Binning index (bins ascending, pseudo-bin last) and linear index of one reference."""
    bins, begins, ends = _compress_binning(ref["bins"], virtual_offsets(ref["begins"]), virtual_offsets(ref["ends"]))
    unique, first_chunk, counts = np.unique(bins, return_index=True, return_counts=True)
    # each bin: uint32 bin, int32 n_chunk, then n_chunk x (uint64 begin, uint64 end), as 32-bit words
    words = np.empty(2 * unique.size + 4 * bins.size, dtype=np.uint32)
    record = 2 * np.arange(unique.size) + 4 * first_chunk
    words[record] = unique
    words[record + 1] = counts
    chunk = np.repeat(record + 2, counts) + 4 * (np.arange(bins.size) - np.repeat(first_chunk, counts))
    for k, value in enumerate((begins, ends)):
        words[chunk + 2 * k] = (value & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        words[chunk + 2 * k + 1] = (value >> np.uint64(32)).astype(np.uint32)
    first, end = virtual_offsets(np.array([ref["first"], ref["end"]], dtype=np.int64)).tolist()
    pseudo = struct.pack("<Ii4Q", META_BIN, 2, first, end, ref["lines"], 0)

    linear = ref["linear"]
    # an empty window takes the next window's offset (the last window always holds a line)
    next_set = np.where(linear >= 0, np.arange(linear.size), linear.size)
    linear = linear[np.minimum.accumulate(next_set[::-1])[::-1]]
    return b"".join([struct.pack("<i", unique.size + 1), words.astype("<u4").tobytes(), pseudo,
                     struct.pack("<i", linear.size), virtual_offsets(linear).astype("<u8").tobytes()])


def _compress_binning(bins: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """htslib's ``compress_binning``: move small bins into their parents, merge chunks within a block.

    Chunks (bin, begin, end) come in file order and are disjoint, so within a bin the chunk with
    the largest begin also has the largest end. Returns the chunks sorted by bin, then begin.
    """
    bins = bins.copy()
    for level in range(N_LEVELS, 0, -1):
        present = np.unique(bins)
        at_level = (bins >= _level_first(level)) & (bins < _level_first(level + 1))
        if not at_level.any():
            continue
        level_bins, which = np.unique(bins[at_level], return_inverse=True)
        low = np.full(level_bins.size, np.iinfo(np.uint64).max, dtype=np.uint64)
        high = np.zeros(level_bins.size, dtype=np.uint64)
        np.minimum.at(low, which, begins[at_level])
        np.maximum.at(high, which, ends[at_level])
        small = (high >> np.uint64(16)) - (low >> np.uint64(16)) < _MIN_MARKER_DIST
        parents = (level_bins - 1) >> 3
        move = small & np.isin(parents, present)
        moved = np.flatnonzero(at_level)[move[which]]
        bins[moved] = (bins[moved] - 1) >> 3
    order = np.lexsort((begins, bins))
    bins, begins, ends = bins[order], begins[order], ends[order]
    # a chunk starting in the block where the previous chunk of its bin ends extends that chunk
    new = np.ones(bins.size, dtype=bool)
    new[1:] = (bins[1:] != bins[:-1]) | ((ends[:-1] >> np.uint64(16)) < (begins[1:] >> np.uint64(16)))
    starts = np.flatnonzero(new)
    last = np.concatenate([starts[1:], [bins.size]]) - 1
    return bins[starts], begins[starts], ends[last]


def parse_tbi(data: bytes) -> dict:
    """Decompressed .tbi content -> ``{"header": (format, col_seq, col_beg, col_end, meta, skip),
    "names": [...], "references": [{"bins": {bin: [(begin, end), ...]}, "linear": [...]}], "n_no_coor": int}``.
    """
    magic, n_ref, *conf, l_nm = struct.unpack_from("<4s8i", data)
    if magic != b"TBI\1":
        raise ValueError("not a tabix index")
    pos = 36
    names = data[pos : pos + l_nm].split(b"\0")[:-1]
    pos += l_nm
    references = []
    for _ in range(n_ref):
        (n_bin,) = struct.unpack_from("<i", data, pos)
        pos += 4
        bins = {}
        for _ in range(n_bin):
            bin_number, n_chunk = struct.unpack_from("<Ii", data, pos)
            pos += 8
            chunks = np.frombuffer(data, dtype="<u8", count=2 * n_chunk, offset=pos).reshape(-1, 2)
            bins[bin_number] = [tuple(int(x) for x in pair) for pair in chunks]
            pos += 16 * n_chunk
        (n_intv,) = struct.unpack_from("<i", data, pos)
        pos += 4
        linear = np.frombuffer(data, dtype="<u8", count=n_intv, offset=pos).tolist()
        pos += 8 * n_intv
        references.append({"bins": bins, "linear": linear})
    n_no_coor = struct.unpack_from("<Q", data, pos)[0] if pos + 8 <= len(data) else None
    return {"header": tuple(conf), "names": [name.decode() for name in names], "references": references,
            "n_no_coor": n_no_coor}

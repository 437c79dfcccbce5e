"""The genome's .fai/.gzi: a stale index is never used silently, a truncated bgzip genome is refused."""

import logging
import os
import re
import shutil
from pathlib import Path

import pysam
import pytest
from conftest import random_sequence, run_extract_job, write_fasta, write_lines

from seqlrp.errors import InputError
from seqlrp.formats.fasta_index import owned_index
from seqlrp.formats.genome import Genome

HOUR = 3600


def _age(path: Path, seconds: float) -> None:
    """Move the mtime of ``path`` ``seconds`` into the past (negative: into the future)."""
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - int(seconds * 1e9)))


def _snapshot(directory: Path, skip: str = "results") -> dict[str, tuple[int, bytes]]:
    """Name -> (mtime, bytes) of every file in ``directory`` except ``skip``: to see nothing was written."""
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in directory.iterdir() if p.is_file() and p.name != skip}


def _assert_sequences(genome: Genome, chroms: dict[str, str]) -> None:
    assert genome.lengths == {name: len(seq) for name, seq in chroms.items()}
    for name, seq in chroms.items():
        assert genome.fetch(name, 0, len(seq)) == seq, name


def _stale_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "stale" in r.getMessage()]


def _bgzip(plain: Path, target: Path) -> Path:
    pysam.tabix_compress(str(plain), str(target), force=True)
    return target


def _big_chroms() -> dict[str, str]:
    """Three contigs, 300 kb in all: several BGZF blocks."""
    return {"chrA": random_sequence(120_000, 11), "chrB": random_sequence(100_000, 12), "chrC": random_sequence(80_000, 13)}


@pytest.fixture
def index_dir(tmp_path) -> Path:
    return tmp_path / "results" / "genome_index"


def test_rewrapped_plain_fasta_gets_a_rebuilt_index_in_index_dir(tmp_path, small_genome, index_dir, caplog):
    fasta, chroms = small_genome
    pysam.faidx(str(fasta))
    write_fasta(fasta, chroms, width=50)  # re-wrapped after the .fai was written
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.INFO), Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    assert _snapshot(tmp_path) == before  # nothing written beside the genome
    own = owned_index(fasta, index_dir, bgzip=False)
    assert [p.name for p in index_dir.iterdir()] == [own.fai.name]
    assert re.fullmatch(r"genome\.fa\.[0-9a-f]{10}\.fai", own.fai.name)
    (warning,) = _stale_warnings(caplog)
    assert "genome.fa.fai" in warning and str(own.fai) in warning and "\n" not in warning


@pytest.mark.parametrize("edit", ["longer_contig", "shorter_contig", "appended_contig", "base_changed_in_place"])
def test_edited_plain_fasta_with_older_index(tmp_path, small_genome, index_dir, caplog, edit):
    fasta, chroms = small_genome
    pysam.faidx(str(fasta))
    _age(Path(f"{fasta}.fai"), HOUR)
    chroms = dict(chroms)
    if edit == "longer_contig":
        chroms["chr1"] = chroms["chr1"][:500] + "G" + chroms["chr1"][500:]
    elif edit == "shorter_contig":
        chroms["chr2"] = chroms["chr2"][:-7]
    elif edit == "appended_contig":
        chroms["chrNew"] = random_sequence(333, 9)
    else:
        chroms["chr1"] = chroms["chr1"][:10] + ("A" if chroms["chr1"][10] != "A" else "C") + chroms["chr1"][11:]
    write_fasta(fasta, chroms)
    with caplog.at_level(logging.WARNING), Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    (warning,) = _stale_warnings(caplog)
    assert "older than genome.fa" in warning


@pytest.mark.parametrize("other", ["rewrapped", "other_lengths", "fewer_contigs"])
def test_newer_index_that_does_not_fit_the_layout_is_detected(tmp_path, small_genome, index_dir, caplog, other):
    fasta, chroms = small_genome
    variants = {
        "rewrapped": (chroms, 70),
        "other_lengths": ({k: v[:-3] for k, v in chroms.items()}, 60),
        "fewer_contigs": ({k: chroms[k] for k in ("chr1", "chr2")}, 60),
    }
    records, width = variants[other]
    elsewhere = write_fasta(tmp_path / "other.fa", records, width=width)
    pysam.faidx(str(elsewhere))
    shutil.copy(f"{elsewhere}.fai", f"{fasta}.fai")
    _age(Path(f"{fasta}.fai"), -HOUR)  # newer than the FASTA: only the layout can tell
    with caplog.at_level(logging.WARNING), Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    (warning,) = _stale_warnings(caplog)
    assert "older" not in warning


@pytest.mark.parametrize("newer_index", [False, True], ids=["older_index", "newer_index"])
def test_bgzip_genome_with_stale_index_reads_correctly(tmp_path, index_dir, caplog, newer_index):
    old = _big_chroms()
    bgz = _bgzip(write_fasta(tmp_path / "old.fa", old), tmp_path / "genome.fa.gz")
    pysam.faidx(str(bgz))
    new = {"chrA": old["chrA"][:70_000], "chrZ": random_sequence(90_000, 21), "chrC": old["chrC"]}
    _bgzip(write_fasta(tmp_path / "new.fa", new, width=80), bgz)
    for suffix in (".fai", ".gzi"):
        _age(Path(f"{bgz}{suffix}"), -HOUR if newer_index else HOUR)
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.WARNING), Genome(bgz, index_dir=index_dir) as genome:
        _assert_sequences(genome, new)
    assert _snapshot(tmp_path) == before
    own = owned_index(bgz, index_dir, bgzip=True)
    assert sorted(p.name for p in index_dir.iterdir()) == sorted([own.fai.name, own.gzi.name])
    (warning,) = _stale_warnings(caplog)
    assert "genome.fa.gz.fai" in warning and str(own.fai) in warning


def _cut(path: Path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-28] if how == "eof_marker" else data[: len(data) // 2])


@pytest.mark.parametrize("how,why", [("eof_marker", r"no BGZF end-of-file marker"), ("mid_block", r"the BGZF block at byte \d+ runs past the end of the file at byte \d+")])
@pytest.mark.parametrize("size", ["one_block", "many_blocks"])
@pytest.mark.parametrize("old_index", [False, True], ids=["no_index", "index_beside"])
def test_truncated_bgzip_genome_is_refused(tmp_path, small_genome, index_dir, how, why, size, old_index):
    fasta, chroms = small_genome
    if size == "many_blocks":
        write_fasta(fasta, _big_chroms())
    bgz = _bgzip(fasta, tmp_path / "genome.fa.gz")
    if old_index:  # an index left beside it by an earlier run, newer than the file
        pysam.faidx(str(bgz))
    _cut(bgz, how)
    before = _snapshot(tmp_path)
    with pytest.raises(InputError, match=rf"genome\.fa\.gz: truncated bgzip file \({why}\): .*cut short; fetch it again"):
        Genome(bgz, index_dir=index_dir)
    assert _snapshot(tmp_path) == before  # no .fai/.gzi beside it (none added, none changed)
    assert not index_dir.exists() or not any(index_dir.iterdir())


@pytest.mark.parametrize("where", ["beside", "index_dir"])
def test_index_from_an_earlier_truncated_download_is_not_reused(tmp_path, index_dir, caplog, where):
    chroms = _big_chroms()
    full = _bgzip(write_fasta(tmp_path / "plain.fa", chroms), tmp_path / "full.fa.gz")
    pysam.faidx(str(full))
    cut_at = int.from_bytes(Path(f"{full}.gzi").read_bytes()[24:32], "little")  # compressed start of the third block
    bgz = tmp_path / "genome.fa.gz"
    bgz.write_bytes(full.read_bytes()[:cut_at])  # cut at a block boundary: htslib indexes what is left
    pysam.faidx(str(bgz))
    assert Path(f"{bgz}.fai").read_text() != Path(f"{full}.fai").read_text()
    stale = [Path(f"{bgz}.fai"), Path(f"{bgz}.gzi")]
    if where == "index_dir":
        own = owned_index(bgz, index_dir, bgzip=True)
        index_dir.mkdir(parents=True)
        for path, target in zip(stale, own.files()):
            os.replace(path, target)
        stale = own.files()
    shutil.copy(full, bgz)  # the download done again, complete
    for path in stale:
        _age(path, -HOUR)  # newer than the new file: only the layout can tell
    with caplog.at_level(logging.INFO), Genome(bgz, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    own = owned_index(bgz, index_dir, bgzip=True)
    assert own.fai.read_text() == Path(f"{full}.fai").read_text()
    assert len(_stale_warnings(caplog)) == (where == "beside")


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "bgzip"])
@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_valid_index_beside_the_genome_is_used_and_nothing_is_written(tmp_path, index_dir, caplog, compressed, line_end):
    chroms = {"chr1": random_sequence(1000, 1), "chr2": random_sequence(600, 2), "chrM": random_sequence(50, 3)}
    fasta = tmp_path / "genome.fa"
    fasta.write_bytes("".join(f">{name} some description{line_end}" + "".join(seq[i : i + 60] + line_end for i in range(0, len(seq), 60))
                              for name, seq in chroms.items()).encode())
    if compressed:
        fasta = _bgzip(fasta, tmp_path / "genome.fa.gz")
    pysam.faidx(str(fasta))
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.INFO), Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    assert not index_dir.exists()
    assert _snapshot(tmp_path) == before
    assert not [r for r in caplog.records if r.name == "seqlrp.formats.fasta_index"]


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "bgzip"])
def test_missing_index_is_built_in_index_dir_and_reused(tmp_path, small_genome, index_dir, caplog, compressed):
    fasta, chroms = small_genome
    if compressed:
        fasta = _bgzip(fasta, tmp_path / "genome.fa.gz")
    before = _snapshot(tmp_path)
    with caplog.at_level(logging.INFO), Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    assert _snapshot(tmp_path) == before  # not beside the genome
    own = owned_index(fasta, index_dir, bgzip=compressed)
    built = {p: p.stat().st_mtime_ns for p in own.files()}
    assert not _stale_warnings(caplog)
    caplog.clear()
    with caplog.at_level(logging.INFO), Genome(fasta, index_dir=index_dir) as genome:  # a later run: reused as is
        _assert_sequences(genome, chroms)
    assert {p: p.stat().st_mtime_ns for p in own.files()} == built
    assert not [r for r in caplog.records if r.name == "seqlrp.formats.fasta_index"]


def test_rebuilt_index_is_reused_while_it_fits_and_rebuilt_when_it_does_not(tmp_path, small_genome, index_dir, caplog):
    fasta, chroms = small_genome
    pysam.faidx(str(fasta))
    write_fasta(fasta, chroms, width=50)
    with Genome(fasta, index_dir=index_dir):
        pass
    own = owned_index(fasta, index_dir, bgzip=False)
    first = own.fai.stat().st_mtime_ns
    caplog.clear()
    with caplog.at_level(logging.WARNING), Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    assert own.fai.stat().st_mtime_ns == first
    (warning,) = _stale_warnings(caplog)
    assert "rebuilt earlier" in warning
    chroms["chr2"] += "ACGT"
    write_fasta(fasta, chroms, width=40)
    _age(fasta, -HOUR)  # edited after the rebuilt index too
    with Genome(fasta, index_dir=index_dir) as genome:
        _assert_sequences(genome, chroms)
    assert own.fai.stat().st_mtime_ns != first


def test_without_index_dir_a_temporary_directory_is_used_and_removed(tmp_path, small_genome):
    fasta, chroms = small_genome
    before = _snapshot(tmp_path)
    genome = Genome(fasta)
    scratch = Path(genome._scratch.name)
    assert any(scratch.iterdir())
    _assert_sequences(genome, chroms)
    genome.close()
    assert not scratch.exists()
    assert _snapshot(tmp_path) == before


def test_extract_job_on_a_truncated_bgzip_genome(tmp_path, small_genome):
    """The extract job (in-process, as its script runs it): one line, status 1, no data and no index left."""
    fasta, _ = small_genome
    bgz = _bgzip(fasta, tmp_path / "genome.fa.gz")
    _cut(bgz, "eof_marker")
    bed = write_lines(tmp_path / "a.bed", ["chr1\t0\t10"])
    workdir = tmp_path / "run"
    workdir.mkdir()
    status, lines, data_dir = run_extract_job(workdir, bgz, {"a": bed, "b": bed}, seq_len=100)
    assert status == 1 and len(lines) == 1, lines
    assert re.search(r"genome\.fa\.gz: truncated bgzip file \(no BGZF end-of-file marker\)", lines[0]), lines[0]
    assert not data_dir.exists() or not any(data_dir.iterdir())
    assert not list(tmp_path.glob("genome.fa.gz.*"))
    index_dir = workdir / "results" / "genome_index"
    assert not index_dir.exists() or not any(index_dir.iterdir())

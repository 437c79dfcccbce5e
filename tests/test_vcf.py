"""The VCF reader (seqlrp.formats.vcf) and variant windows (seqlrp.sequences.variant_windows):
coordinates at known genome positions, odd-record policies, one-line errors, streaming."""

import inspect
import itertools
import logging
import tracemalloc

import numpy as np
import pysam
import pytest

from seqlrp.errors import InputError
from seqlrp.formats.genome import Genome
from seqlrp.formats.onehot import codes_from_str
from seqlrp.formats.vcf import Variant, VariantCounts, iter_variants
from seqlrp.sequences.variant_windows import normalize, variant_windows

#       0         1         2         3         4         5
#       0123456789012345678901234567890123456789012345678901234
CHR1 = "CGTACGGATCTAAAACGCATCAGTCACTGCTGCTGATTGACCGTAGGCTTACAGTC"
CHR2 = "GATTACAGATTACA"
HEADER = ("##fileformat=VCFv4.2\n##contig=<ID=chr1,length=56>\n##contig=<ID=chr2,length=14>\n"
          "##contig=<ID=chrZ,length=100>\n##contig=<ID=1,length=56>\n##contig=<ID=2,length=14>\n"
          '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n'
          "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
HEADER_LINES = HEADER.count("\n")
LOGGER = "seqlrp.formats.vcf"


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("genome")
    path = folder / "genome.fa"
    path.write_text(f">chr1\n{CHR1}\n>chr2\n{CHR2}\n")
    with Genome(path, index_dir=folder / "index") as opened:
        yield opened


def rec(chrom, pos, ref, alt, id_="."):
    return f"{chrom}\t{pos}\t{id_}\t{ref}\t{alt}\t.\t.\t.\n"


def write_vcf(tmp_path, records, form="vcf", header=HEADER):
    """Write the records as plain VCF, bgzip VCF (pysam.tabix_compress) or BCF (pysam writer)."""
    plain = tmp_path / "in.vcf"
    plain.write_text(header + "".join(records))
    if form == "vcf":
        return plain
    if form == "vcf.gz":
        out = tmp_path / "in.vcf.gz"
        pysam.tabix_compress(str(plain), str(out), force=True)
        return out
    out = tmp_path / "in.bcf"
    with pysam.VariantFile(str(plain)) as source, pysam.VariantFile(str(out), "wb", header=source.header) as sink:
        for record in source:
            sink.write(record)
    return out


def read(path, genome, **kwargs):
    counts = VariantCounts()
    rows = list(iter_variants(path, genome.lengths, fetch_ref=genome.fetch, counts=counts, **kwargs))
    return rows, counts


def where(path, form, k):
    """How an error names record k (1-based): its line in a text VCF, its number in a BCF."""
    return f"{path}:{k if form == 'bcf' else HEADER_LINES + k}: "


FORMS = ["vcf", "vcf.gz", "bcf"]


# ---- reading ----------------------------------------------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_records_lines_and_multiallelic_rows(tmp_path, genome, form):
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A", "rs1"), rec("chr2", 4, "t", "C,g", "rs2")], form)
    rows, counts = read(path, genome)
    line = (lambda k: k) if form == "bcf" else (lambda k: HEADER_LINES + k)
    assert rows == [Variant("chr1", 3, "rs1", "T", "A", line(1), 1),
                    Variant("chr2", 4, "rs2", "T", "C", line(2), 1),
                    Variant("chr2", 4, "rs2", "T", "G", line(2), 2)]
    assert (counts.records, counts.rows, counts.symbolic_skipped, counts.contigs_mapped) == (2, 3, 0, 0)


@pytest.mark.parametrize("form", FORMS)
def test_symbolic_alleles_are_skipped_counted_and_warned_once(tmp_path, genome, form, caplog):
    records = [rec("chr1", 3, "T", "<DEL>,A"), rec("chr1", 4, "A", "*"), rec("chr1", 5, "C", "."),
               rec("chr1", 6, "G", "G]chr2:3]"), rec("chr1", 7, "G", "C")]
    path = write_vcf(tmp_path, records, form)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rows, counts = read(path, genome)
    assert [(r.pos, r.alt, r.allele) for r in rows] == [(3, "A", 2), (7, "C", 1)]
    assert counts.symbolic_skipped == 4 and counts.records == 5
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 4 symbolic" in warnings[0]


@pytest.mark.parametrize("form", FORMS)
def test_chr_prefix_is_mapped_with_one_warning(tmp_path, genome, form, caplog):
    path = write_vcf(tmp_path, [rec("1", 3, "T", "A"), rec("2", 4, "T", "C"), rec("1", 5, "C", "G")], form)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rows, counts = read(path, genome)
    assert [r.chrom for r in rows] == ["chr1", "chr2", "chr1"]
    assert counts.contig_mapping == {"1": "chr1", "2": "chr2"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'chr' prefix" in warnings[0]


def test_a_file_mixing_chr_and_plain_names_is_refused(tmp_path, genome):
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A"), rec("2", 4, "T", "C")])
    with pytest.raises(InputError) as err:
        read(path, genome)
    assert str(err.value).startswith(f"{path}:{HEADER_LINES + 2}: contig '2' is not in the genome")
    assert "mixes contig names" in str(err.value)


@pytest.mark.parametrize("form", FORMS)
def test_ref_mismatch_is_refused_by_default_naming_both_alleles(tmp_path, genome, form):
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A"), rec("chr1", 4, "GC", "G")], form)  # genome: AC
    with pytest.raises(InputError) as err:
        read(path, genome)
    message = str(err.value)
    assert message.startswith(where(path, form, 2)) and "\n" not in message
    assert "REF GC" in message and "has AC at chr1:4" in message


@pytest.mark.parametrize("form", FORMS)
def test_ref_mismatch_skip_counts_and_warns(tmp_path, genome, form, caplog):
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A"), rec("chr1", 4, "G", "C,T"), rec("chr1", 4, "N", "C")],
                     form)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        rows, counts = read(path, genome, ref_mismatch="skip")
    assert [(r.pos, r.ref, r.alt) for r in rows] == [(3, "T", "A"), (4, "N", "C")]  # N matches any base
    assert counts.ref_mismatch_skipped == 1
    assert ["skipped 1 record whose REF" in r.getMessage() for r in caplog.records] == [True]


MALFORMED = {  # name: (record 2's text, the problem's words, forms that can carry it)
    "missing columns": ("chr1\t5\t.\tC\tG\n", "5 tab-separated columns", ["vcf", "vcf.gz"]),
    "spaces for tabs": ("chr1 5 . C G . . .\n", "1 tab-separated column;", ["vcf", "vcf.gz"]),
    "POS not a number": (rec("chr1", "x5", "C", "G"), "POS 'x5' is not a whole number", ["vcf", "vcf.gz"]),
    "POS 0": (rec("chr1", 0, "C", "G"), "POS 0: VCF positions start at 1", ["vcf", "vcf.gz"]),
    "POS past the end": (rec("chr2", 15, "A", "G"), "runs past the end of chr2, which is 14 bp long", FORMS),
    "REF past the end": (rec("chr2", 14, "AG", "A"), "runs past the end of chr2", FORMS),
    "unknown contig": (rec("chrZ", 5, "C", "G"), "contig 'chrZ' is not in the genome (genome has: chr1, chr2)",
                       FORMS),
    "bad ALT letter": (rec("chr1", 5, "C", "X"), "ALT 'X' has letters outside A/C/G/T/N", FORMS),
    "bad REF letter": (rec("chr1", 5, "R", "G"), "REF 'R' has letters outside A/C/G/T/N", FORMS),
    "blank line": ("\n" + rec("chr1", 5, "C", "G"), "blank line between records", ["vcf", "vcf.gz"]),
}


@pytest.mark.parametrize("case,form", [(case, form) for case, (_, _, forms) in MALFORMED.items() for form in forms])
def test_malformed_records_are_refused_with_one_line(tmp_path, genome, case, form):
    text, problem, _ = MALFORMED[case]
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A"), text], form)
    with pytest.raises(InputError) as err:
        read(path, genome)
    message = str(err.value)
    assert message.startswith(where(path, form, 2)), message
    assert problem in message and "\n" not in message


@pytest.mark.parametrize("form", ["vcf", "vcf.gz"])
def test_no_header_is_refused(tmp_path, genome, form):
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A")], form, header="")
    with pytest.raises(InputError, match=r"^.*in\.vcf(\.gz)?:1: no VCF header"):
        read(path, genome)


def test_empty_and_missing_files_are_refused(tmp_path, genome):
    (tmp_path / "empty.vcf").write_text("")
    with pytest.raises(InputError, match="the VCF is empty"):
        read(tmp_path / "empty.vcf", genome)
    with pytest.raises(InputError, match="VCF not found"):
        read(tmp_path / "absent.vcf", genome)


def test_plain_gzip_truncated_and_corrupt_bgzip_are_refused_in_one_line(tmp_path, genome):
    """htslib reads block-gzipped files only: a plain-gzip VCF (common) is refused with the fix; a bgzip
    file cut short or damaged names the problem, not a traceback or htslib's 'Closing failed'."""
    import gzip

    records = [rec("chr1", 3 + (k % 50), CHR1[2 + (k % 50)], "A" if CHR1[2 + (k % 50)] != "A" else "C")
               for k in range(3000)]
    plain = write_vcf(tmp_path, records)
    (tmp_path / "plain.vcf.gz").write_bytes(gzip.compress(plain.read_bytes()))
    with pytest.raises(InputError, match=r"plain\.vcf\.gz: compressed with gzip, not bgzip: .*bgzip"):
        read(tmp_path / "plain.vcf.gz", genome)
    data = write_vcf(tmp_path, records, "vcf.gz").read_bytes()
    (tmp_path / "cut.vcf.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.vcf\.gz(:\d+)?: truncated"):
        read(tmp_path / "cut.vcf.gz", genome)
    damaged = bytearray(data)
    damaged[len(data) // 2: len(data) // 2 + 40] = bytes(40)
    (tmp_path / "damaged.vcf.gz").write_bytes(bytes(damaged))
    with pytest.raises(InputError) as caught:
        read(tmp_path / "damaged.vcf.gz", genome)
    assert str(caught.value).startswith(f"{tmp_path / 'damaged.vcf.gz'}:") and "Closing failed" not in str(caught.value)


def test_a_byte_order_mark_is_named(tmp_path, genome):
    path = tmp_path / "bom.vcf"
    path.write_text("\ufeff" + HEADER + rec("chr1", 3, CHR1[2], "A"), encoding="utf-8")
    with pytest.raises(InputError, match=r"bom\.vcf:1: starts with a UTF-8 byte-order mark"):
        read(path, genome)


def test_a_shard_starts_at_its_record(tmp_path, genome):
    """start_record passes the records before it over unread: a malformed record there is not seen."""
    path = write_vcf(tmp_path, [rec("chr1", 3, "X", "A"), rec("chr1", 5, CHR1[4], "G"), rec("chr1", 7, CHR1[6], "T,C")])
    rows = list(iter_variants(path, genome.lengths, fetch_ref=genome.fetch, start_record=2))
    assert [(v.pos, v.alt, v.line) for v in rows] == [(5, "G", HEADER_LINES + 2), (7, "T", HEADER_LINES + 3),
                                                      (7, "C", HEADER_LINES + 3)]
    with pytest.raises(InputError, match=r"REF 'X' has letters outside"):
        list(iter_variants(path, genome.lengths, fetch_ref=genome.fetch))


def test_trailing_blank_lines_are_ignored(tmp_path, genome):
    path = write_vcf(tmp_path, [rec("chr1", 3, "T", "A"), "\n", "\r\n"])
    assert len(read(path, genome)[0]) == 1


def test_streaming_yields_one_row_at_a_time_with_bounded_memory(tmp_path):
    n = 20_000
    path = tmp_path / "big.vcf"
    path.write_text(HEADER.replace("length=56", "length=1000000")
                    + "".join(rec("chr1", i + 1, "A", "C") for i in range(n)))
    rows = iter_variants(path, {"chr1": 1_000_000})
    assert inspect.isgenerator(rows)
    assert next(rows).pos == 1  # a generator: the first row comes before the file is read
    rows.close()
    counts = VariantCounts()
    total = sum(1 for _ in iter_variants(path, {"chr1": 1_000_000}, counts=counts))
    assert total == counts.rows == n
    # memory while reading: traced over 4,000 rows (tracing makes reading ~10x slower); holding
    # them would take about 1 MB, reading them one at a time a few kB
    tracemalloc.start()
    kept = sum(1 for _ in itertools.islice(iter_variants(path, {"chr1": 1_000_000}), 4_000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert kept == 4_000 and peak < 200_000


# ---- normalisation ----------------------------------------------------------------------------

def fetch_chr1(chrom, start, end):
    return CHR1[max(0, start):max(0, end)]


@pytest.mark.parametrize("given, expected", [
    ((2, "G", "T"), (2, "G", "T")),                 # SNV: as is
    ((14, "AA", "A"), (11, "TA", "T")),             # one A deleted at the end of TAAAAC -> anchored on T
    ((15, "A", "AA"), (11, "T", "TA")),             # one A inserted in the run
    ((13, "AAAC", "AC"), (11, "TAA", "T")),         # two A deleted, trailing C shared
    ((35, "G", "GCTG"), (26, "A", "ACTG")),         # CTG inserted in CTGCTGCTG shifts before the repeat
    ((29, "GCTG", "G"), (26, "ACTG", "A")),        # CTG deleted in the repeat -> anchored before it
    ((27, "CTG", "C"), (27, "CTG", "C")),           # TG deleted: already left-most
    ((7, "GAT", "GCT"), (8, "A", "C")),             # MNP trimmed to its SNV
    ((1, "CG", "G"), (1, "CG", "G")),               # deletion at POS 1 keeps its right anchor
])
def test_left_normalisation_by_hand(given, expected):
    assert normalize("chr1", *given, fetch_chr1) == expected


# ---- windows ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seq_len", [10, 11])
def test_snv_window_coordinates(genome, seq_len):
    pos = 20  # 1-based; CHR1[19] == "T"
    windows = variant_windows(Variant("chr1", pos, ".", "T", "G", 1), seq_len, genome.fetch)
    start = pos - 1 - seq_len // 2
    assert windows.ref_start == start
    assert np.array_equal(windows.ref_codes, codes_from_str(CHR1[start:start + seq_len]))
    assert windows.ref_codes[seq_len // 2] == codes_from_str("T")[0]
    expected_alt = windows.ref_codes.copy()
    expected_alt[seq_len // 2] = codes_from_str("G")[0]
    assert np.array_equal(windows.alt_codes, expected_alt)
    assert np.array_equal(windows.index_map, np.arange(seq_len))


@pytest.mark.parametrize("seq_len", [10, 11])
def test_windows_are_padded_with_n_off_both_chromosome_ends(genome, seq_len):
    first = variant_windows(Variant("chr2", 2, ".", "A", "C", 1), seq_len, genome.fetch)
    half = seq_len // 2
    assert first.ref_start == 1 - half
    expected = "N" * (half - 1) + CHR2[: seq_len - half + 1]
    assert np.array_equal(first.ref_codes, codes_from_str(expected))
    assert first.ref_codes[half] == codes_from_str("A")[0]
    last = variant_windows(Variant("chr2", 14, ".", "A", "C", 1), seq_len, genome.fetch)
    expected = CHR2[13 - half:] + "N" * (seq_len - half - 1)
    assert np.array_equal(last.ref_codes, codes_from_str(expected))
    assert np.array_equal(last.alt_codes[half + 1:], last.ref_codes[half + 1:])  # N stays N
    # the same windows extraction cuts (seqlrp.formats.genome.Genome.window_codes)
    assert np.array_equal(first.ref_codes, genome.window_codes("chr2", np.array([first.ref_start]), seq_len)[0])
    assert np.array_equal(last.ref_codes, genome.window_codes("chr2", np.array([last.ref_start]), seq_len)[0])


def check_alignment(windows, seq_len):
    assert windows.ref_codes.shape == windows.alt_codes.shape == windows.index_map.shape == (seq_len,)
    mapped = windows.index_map >= 0
    assert np.array_equal(windows.alt_codes[mapped], windows.ref_codes[windows.index_map[mapped]])
    assert np.all(np.diff(windows.index_map[mapped]) > 0)  # order kept


@pytest.mark.parametrize("seq_len", [10, 11])
def test_deletion_window_takes_extra_genome_bases_on_the_right(genome, seq_len):
    # CTG deleted at the start of CTGCTGCTG, written unnormalised at the repeat's end
    windows = variant_windows(Variant("chr1", 32, ".", "GCTG", "G", 1), seq_len, genome.fetch)
    half = seq_len // 2
    start = 26 - 1 - half  # normalised to POS 26, A>... anchored on CHR1[25]
    assert windows.ref_start == start
    haplotype = CHR1[start:25] + "A" + CHR1[29:]
    assert np.array_equal(windows.alt_codes, codes_from_str(haplotype[:seq_len]))
    check_alignment(windows, seq_len)
    # the extra bases beyond the reference window have no counterpart there
    assert list(windows.index_map[-3:]) == [-1, -1, -1]
    assert list(windows.index_map[: half + 1]) == list(range(half + 1))


@pytest.mark.parametrize("seq_len, inserted", [(10, "CTG"), (11, "CTG"), (10, "CT"), (11, "CTGCTGCTGCTGCTG")])
def test_insertion_window_is_trimmed_equally_on_both_sides(genome, seq_len, inserted):
    windows = variant_windows(Variant("chr1", 26, ".", "A", "A" + inserted, 1), seq_len, genome.fetch)
    half = seq_len // 2
    start = 25 - half
    haplotype = CHR1[start:25] + "A" + inserted + CHR1[26:start + seq_len]
    surplus = len(inserted)
    left = surplus // 2  # an odd surplus loses its extra base on the right
    assert np.array_equal(windows.alt_codes, codes_from_str(haplotype[left:left + seq_len]))
    check_alignment(windows, seq_len)
    if len(inserted) < seq_len:
        assert (windows.index_map == -1).sum() == len(inserted)


def test_deletion_near_the_chromosome_end_pads_with_n(genome):
    windows = variant_windows(Variant("chr2", 11, ".", "TA", "T", 1), 10, genome.fetch)
    # CHR2 = GATTACAGATTACA; deleting A at 0-based 11 leaves CA then N
    assert windows.ref_start == 11 - 1 - 5
    check_alignment(windows, 10)
    assert windows.alt_codes[-1] == 4 and (windows.index_map == -1).sum() == 1

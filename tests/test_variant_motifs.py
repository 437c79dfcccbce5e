"""seqlrp.variants.motif_change: which motif a variant breaks or creates (memelite FIMO scores)."""

import itertools

import numpy as np
import pytest

from seqlrp.analysis.tomtom import Hit, fetch_jaspar, write_tomtom_tsv
from seqlrp.formats.meme import MemeMotif, write_meme
from seqlrp.formats.onehot import reverse_complement_codes
from seqlrp.variants.motif_change import (
    MotifScanner,
    MotifSet,
    jaspar_motif_set,
    pattern_motif_set,
    score_threshold,
)

L, CENTRE = 101, 50
CTCF, SPI1, AP1 = "MA0139.2", "MA0080.7", "MA0099.4"


@pytest.fixture(scope="module")
def jaspar():
    return fetch_jaspar("CORE", ["vertebrates"])


@pytest.fixture(scope="module")
def subset(jaspar):
    full = jaspar_motif_set(jaspar)
    picked = [jaspar.index(i) for i in (CTCF, SPI1, AP1)]
    return MotifSet([full.ids[i] for i in picked], [full.names[i] for i in picked], [full.matrices[i] for i in picked])


@pytest.fixture(scope="module")
def scanner(subset):
    return MotifScanner(subset)


@pytest.fixture(scope="module")
def ctcf(subset):
    return subset.matrices[0]


def log_odds(matrix, background=(0.25, 0.25, 0.25, 0.25)):
    """memelite's units, by hand: log2(p + 1e-4) - log2(background), bits."""
    return np.log2(matrix + 1e-4) - np.log2(np.asarray(background))[:, None]


def key_column(matrix):
    """The most informative column (information content 2 + sum p log2 p)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return int(np.argmax(2 + np.nansum(matrix * np.log2(matrix), axis=0)))


def random_window(seed, length=L):
    return np.random.default_rng(seed).integers(0, 4, length).astype(np.uint8)


def planted(seed, start, motif_codes):
    codes = random_window(seed)
    codes[start:start + motif_codes.size] = motif_codes
    return codes


def snv(ref, position, base):
    alt = ref.copy()
    alt[position] = base
    return alt


def one(scanner, ref, alt, ref_span, alt_span):
    """``changes`` of one variant."""
    return scanner.changes(ref[None], alt[None], np.array([ref_span]), np.array([alt_span]))[0]


@pytest.fixture(scope="module")
def strict(subset):
    """p < 1e-5: CTCF's threshold is 13.6 bits, above its consensus with the key column at its worst
    base (9.35 bits); at p < 1e-4 (8.9 bits) that site still passes."""
    return MotifScanner(subset, p_threshold=1e-5)


def test_snv_at_the_key_column_breaks_the_motif_and_its_reverse_creates_it(strict, scanner, ctcf):
    lo, key, consensus = log_odds(ctcf), key_column(ctcf), ctcf.argmax(axis=0).astype(np.uint8)
    worst = int(ctcf[:, key].argmin())
    ref = planted(1, CENTRE - key, consensus)
    alt = snv(ref, CENTRE, worst)
    top = lo.max(axis=0).sum()
    mutated = top - lo[consensus[key], key] + lo[worst, key]
    change = one(strict, ref, alt, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1))
    assert (change.motif_id, change.motif_name, change.effect) == (CTCF, "CTCF", "broken")
    assert change.ref_score == pytest.approx(top, abs=1e-9)
    assert change.alt_score == pytest.approx(mutated, abs=1e-9) and change.alt_score < change.ref_score
    assert strict.thresholds[0] > mutated > scanner.thresholds[0]
    loose = one(scanner, ref, alt, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1))
    assert (loose.effect, loose.ref_score, loose.alt_score) == ("changed", change.ref_score, change.alt_score)
    reverse = one(strict, alt, ref, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1))
    assert (reverse.motif_id, reverse.effect) == (CTCF, "created")
    assert (reverse.ref_score, reverse.alt_score) == pytest.approx((mutated, top), abs=1e-9)


def test_reverse_complement_instance_is_found(strict, ctcf):
    lo, key, consensus = log_odds(ctcf), key_column(ctcf), ctcf.argmax(axis=0).astype(np.uint8)
    width = ctcf.shape[1]
    # column j of the motif read on the minus strand sits at start + width - 1 - j
    ref = planted(2, CENTRE - (width - 1 - key), reverse_complement_codes(consensus))
    assert ref[CENTRE] == 3 - consensus[key]
    alt = snv(ref, CENTRE, 3 - int(ctcf[:, key].argmin()))
    change = one(strict, ref, alt, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1))
    assert (change.motif_id, change.effect) == (CTCF, "broken")
    assert change.ref_score == pytest.approx(lo.max(axis=0).sum(), abs=1e-9)


def test_variant_far_from_any_motif_gives_none(scanner, ctcf):
    consensus = ctcf.argmax(axis=0).astype(np.uint8)
    ref = planted(3, CENTRE - 7, consensus)
    alt = snv(ref, 5, (ref[5] + 2) % 4)
    assert one(scanner, ref, alt, (5, 6), (5, 6)) is None
    # the planted site itself is seen from a span on it
    assert scanner.scores(ref[None], np.array([[CENTRE, CENTRE + 1]]))[0, 0] > scanner.thresholds[0]


@pytest.mark.parametrize("start", [CENTRE + 1, CENTRE + 31, CENTRE - 15])
def test_placements_not_overlapping_the_allele_are_ignored(scanner, ctcf, start):
    """CTCF right after, 30 bp after, or right before the SNV: inside the scanned stretch or not."""
    lo, consensus = log_odds(ctcf), ctcf.argmax(axis=0).astype(np.uint8)
    ref = planted(17, start, consensus)
    alt = snv(ref, CENTRE, (ref[CENTRE] + 1) % 4)
    assert one(scanner, ref, alt, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1)) is None
    # batched with a variant of a 40-base span, whose placements reach further right
    other = random_window(18)
    spans = np.array([[CENTRE, CENTRE + 1], [0, 40]])
    assert scanner.changes(np.stack([ref, other]), np.stack([alt, other]), spans, spans) == [None, None]
    # a span reaching one base into the site sees it
    reach = np.array([[min(CENTRE, start), max(CENTRE + 1, start + 1)]])
    assert scanner.scores(ref[None], reach)[0, 0] == pytest.approx(lo.max(axis=0).sum(), abs=1e-9)


def test_deletion_and_insertion_in_one_batch(scanner, ctcf):
    lo, key, consensus = log_odds(ctcf), key_column(ctcf), ctcf.argmax(axis=0).astype(np.uint8)
    top = lo.max(axis=0).sum()
    # deletion: anchor CENTRE, 4 deleted bases over the site's key column; the window takes 4 more bases
    del_ref = planted(5, CENTRE + 2 - key, consensus)
    del_alt = np.concatenate([del_ref[:CENTRE + 1], del_ref[CENTRE + 5:], random_window(6, 4)])
    # insertion: anchor CENTRE + 30 random bases + CTCF, out of reach of a one-base span
    ins_ref = random_window(7)
    inserted = np.concatenate([random_window(8, 30), consensus])
    ins_alt = np.concatenate([ins_ref[:CENTRE + 1], inserted, ins_ref[CENTRE + 1:]])[:L]
    refs, alts = np.stack([del_ref, ins_ref]), np.stack([del_alt, ins_alt])
    ref_spans = np.array([[CENTRE, CENTRE + 5], [CENTRE, CENTRE + 1]])
    alt_spans = np.array([[CENTRE, CENTRE + 1], [CENTRE, CENTRE + 1 + inserted.size]])
    deletion, insertion = scanner.changes(refs, alts, ref_spans, alt_spans)
    assert (deletion.motif_id, deletion.effect) == (CTCF, "broken")
    assert deletion.ref_score == pytest.approx(top, abs=1e-9)
    assert (insertion.motif_id, insertion.effect) == (CTCF, "created")
    assert insertion.alt_score == pytest.approx(top, abs=1e-9)
    # one variant at a time gives the same
    assert deletion == one(scanner, del_ref, del_alt, ref_spans[0], alt_spans[0])
    assert insertion == one(scanner, ins_ref, ins_alt, ref_spans[1], alt_spans[1])
    # the anchor alone does not reach the inserted site
    assert one(scanner, ins_ref, ins_alt, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1)) is None


def test_n_bases_add_nothing_and_placements_stay_inside_the_window(scanner, ctcf):
    lo, key, consensus = log_odds(ctcf), key_column(ctcf), ctcf.argmax(axis=0).astype(np.uint8)
    top = lo.max(axis=0).sum()
    ref = planted(9, CENTRE - key, consensus)
    change = one(scanner, ref, snv(ref, CENTRE, 4), (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1))
    assert change.motif_id == CTCF
    assert change.alt_score == pytest.approx(top - lo[consensus[key], key], abs=1e-9)  # N: 0 bits
    assert change.effect == "changed"  # still above the p < 1e-4 threshold
    blank = np.full(L, 4, dtype=np.uint8)
    assert one(scanner, blank, blank, (CENTRE, CENTRE + 1), (CENTRE, CENTRE + 1)) is None
    assert np.all(scanner.scores(blank[None], np.array([[CENTRE, CENTRE + 1]])) == 0.0)
    # CTCF cut at the window's left edge: only the placement starting at 0 overlaps base 0
    edge = planted(10, 0, consensus[3:])
    score = scanner.scores(edge[None], np.array([[0, 1]]))[0, 0]
    assert score == pytest.approx(lo[edge[:lo.shape[1]], np.arange(lo.shape[1])].sum(), abs=1e-9)
    assert score < top - lo.max(axis=0)[:3].sum()  # the cut site, padded with N off the window, would score this


def test_threshold_is_the_exact_binned_score_distribution():
    """score_threshold against all 4**5 sequences of a small motif under a skewed background."""
    rng = np.random.default_rng(11)
    matrix = rng.dirichlet(np.full(4, 0.5), size=5).T
    background = np.array([0.35, 0.15, 0.15, 0.35])
    lo = log_odds(matrix, background)
    bins = np.round(lo / 0.1).astype(int)
    totals, probabilities = [], []
    for sequence in itertools.product(range(4), repeat=5):
        totals.append(sum(bins[b, j] for j, b in enumerate(sequence)))
        probabilities.append(np.prod(background[list(sequence)]))
    totals, probabilities = np.array(totals), np.array(probabilities)
    for p in (0.2, 0.05, 0.01, 1e-3, 1e-9):
        passing = [t for t in range(totals.min(), totals.max() + 2) if probabilities[totals >= t].sum() < p]
        assert score_threshold(lo, background, p) == pytest.approx(float(np.float32(passing[0] * 0.1)), abs=1e-12)


def test_background_scores_and_symmetrises(ctcf):
    motifs = MotifSet([CTCF], ["CTCF"], [ctcf])
    skewed = MotifScanner(motifs, background=[0.3, 0.2, 0.2, 0.3])
    assert np.allclose(skewed.background, [0.3, 0.2, 0.2, 0.3])
    assert np.allclose(MotifScanner(motifs, background=[0.4, 0.2, 0.1, 0.3]).background, [0.35, 0.15, 0.15, 0.35])
    consensus = ctcf.argmax(axis=0).astype(np.uint8)
    ref = planted(12, CENTRE, consensus)
    expected = log_odds(ctcf, [0.3, 0.2, 0.2, 0.3])[consensus, np.arange(consensus.size)].sum()
    assert skewed.scores(ref[None], np.array([[CENTRE, CENTRE + 1]]))[0, 0] == pytest.approx(expected, abs=1e-9)
    assert skewed.thresholds[0] != MotifScanner(motifs).thresholds[0]


@pytest.mark.parametrize("p_threshold", [1e-4, 1e-3])
def test_passes_agree_with_memelite_fimo(jaspar, subset, p_threshold):
    """Every base covered by a FIMO hit passes here, with the hit's score, and no other base does."""
    from memelite import fimo

    extra = [jaspar.index(i) for i in jaspar.ids[::40]]
    motifs = MotifSet(subset.ids + [jaspar.ids[i] for i in extra], subset.names + [jaspar.names[i] for i in extra],
                      subset.matrices + [jaspar.matrices[i] for i in extra])
    length = 300
    codes = random_window(13, length)
    for start, matrix, reverse in ((20, subset.matrices[0], False), (80, subset.matrices[1], True),
                                   (150, subset.matrices[2], False), (200, subset.matrices[0], True)):
        consensus = matrix.argmax(axis=0).astype(np.uint8)
        codes[start:start + consensus.size] = reverse_complement_codes(consensus) if reverse else consensus
    codes[[203, 260, 261]] = 4
    scanner = MotifScanner(motifs, p_threshold=p_threshold)
    onehot = (codes[None, None, :] == np.arange(4)[None, :, None]).astype(np.float64)
    hits = fimo(dict(zip(motifs.ids, motifs.matrices)), onehot, threshold=p_threshold)
    spans = np.stack([np.arange(length), np.arange(length) + 1], axis=1)
    scores = scanner.scores(np.repeat(codes[None], length, axis=0), spans)
    assert sum(len(h) for h in hits[:3]) >= 4  # the planted sites at least
    for m, table in enumerate(hits):
        best = np.full(length, -np.inf)
        for start, end, score, p in zip(table["start"], table["end"], table["score"], table["p-value"]):
            assert p < p_threshold
            best[start:end] = np.maximum(best[start:end], score)
        passes = scores[:, m] > scanner.thresholds[m]
        np.testing.assert_array_equal(passes, np.isfinite(best), err_msg=motifs.ids[m])
        np.testing.assert_allclose(scores[passes, m], best[passes], atol=1e-9)


def test_pattern_motif_set_names_by_significant_match(tmp_path, subset):
    rng = np.random.default_rng(14)
    pwms = {"positive.lrp.pos_0": subset.matrices[0], "positive.lrp.pos_1": rng.dirichlet(np.ones(4), 8).T,
            "positive.lrp.neg_0": subset.matrices[1]}
    entries = []
    for identifier, pwm in pwms.items():
        cwm = rng.dirichlet(np.ones(4), 6).T
        entries += [MemeMotif(identifier, "pwm", pwm), MemeMotif(f"{identifier}.cwm", "cwm", cwm)]
    write_meme(entries, tmp_path / "motifs.meme")
    write_tomtom_tsv(tmp_path / "tomtom.tsv", [
        Hit("positive.lrp.pos_0", CTCF, "CTCF", 1e-7, 0.001, 0, 15, "+"),
        Hit("positive.lrp.pos_0", "MA1929.2", "CTCF", 1e-5, 0.01, 0, 15, "+"),
        Hit("positive.lrp.pos_1", AP1, "FOS::JUN", 0.01, 0.3, 0, 8, "+"),
        Hit("positive.lrp.neg_0", SPI1, "Spi1", 0.001, 0.2, 0, 13, "+"),
        Hit("positive.lrp.neg_0.cwm", "MA0081.3", "SPIB", 1e-5, 0.004, 0, 6, "-"),
    ])
    patterns = pattern_motif_set(tmp_path / "motifs.meme", tmp_path / "tomtom.tsv")
    assert patterns.ids == list(pwms)
    assert patterns.names == ["CTCF(MA0139.2)", "positive.lrp.pos_1", "SPIB(MA0081.3)"]
    for matrix, pwm in zip(patterns.matrices, pwms.values()):
        np.testing.assert_allclose(matrix, pwm, atol=1e-6)
    # significant means q < q_threshold, as the motifs stage names instances
    assert pattern_motif_set(tmp_path / "motifs.meme", tmp_path / "tomtom.tsv", 0.001).names[0] == "positive.lrp.pos_0"
    assert pattern_motif_set(tmp_path / "motifs.meme", tmp_path / "tomtom.tsv", 0.0011).names[0] == "CTCF(MA0139.2)"
    # the patterns scan like any motif set
    consensus = subset.matrices[0].argmax(axis=0).astype(np.uint8)
    ref = planted(15, CENTRE, consensus)
    span = (CENTRE + 7, CENTRE + 8)
    change = one(MotifScanner(patterns), ref, snv(ref, CENTRE + 7, 4), span, span)
    assert (change.motif_id, change.motif_name) == ("positive.lrp.pos_0", "CTCF(MA0139.2)")


def test_bad_spans_and_empty_batch(scanner):
    codes = random_window(16)[None]
    for span in ([[-1, 1]], [[100, 102]], [[5, 5]]):
        with pytest.raises(ValueError):
            scanner.scores(codes, np.array(span))
    empty = np.zeros((0, L), dtype=np.uint8)
    assert scanner.changes(empty, empty, np.zeros((0, 2), dtype=np.int64), np.zeros((0, 2), dtype=np.int64)) == []


def test_the_variant_stage_scans_the_patterns_of_every_store(tmp_path, subset):
    """variant_effects.motifs: patterns — every class and method's patterns in one scanner, as named
    by their own TOMTOM matches; a store without patterns adds none."""
    from seqlrp.stages.variants import _motif_scanner

    stores = []
    for store, pwm in (("positive.lrp", subset.matrices[0]), ("negative.lrp", subset.matrices[1])):
        folder = tmp_path / store
        folder.mkdir()
        write_meme([MemeMotif(f"{store}.pos_0", "pwm", pwm)], folder / "motifs.meme")
        write_tomtom_tsv(folder / "tomtom.tsv", [Hit(f"{store}.pos_0", subset.ids[0 if store[0] == "p" else 1],
                                                     "X", 1e-7, 0.001, 0, 8, "+")])
        stores.append(folder)
    empty = tmp_path / "plrp"
    empty.mkdir()
    write_meme([], empty / "motifs.meme")
    write_tomtom_tsv(empty / "tomtom.tsv", [])
    stores.append(empty)
    scanner = _motif_scanner({"motifs": "patterns", "motif_p": 1e-4},
                             {"patterns": [str(d / "motifs.meme") for d in stores],
                              "tomtom": [str(d / "tomtom.tsv") for d in stores]})
    assert scanner.motifs.ids == ["positive.lrp.pos_0", "negative.lrp.pos_0"]
    assert scanner.motifs.names == [f"X({subset.ids[0]})", f"X({subset.ids[1]})"]
    assert _motif_scanner({"motifs": "none"}, {}) is None

import numpy as np

from seqlrp.analysis.seqlets import Seqlet, call_seqlets, fdr_threshold, window_scores, write_seqlets_bed


def test_window_scores_by_hand():
    scores = window_scores(np.array([[1.0, 2.0, np.nan, 4.0]]), 2)
    np.testing.assert_array_equal(scores, [[3.0, 2.0, 4.0]])


def test_fdr_threshold_by_hand():
    real = np.array([10.0, 9.0, 8.0, 1.0, 0.5])
    null = np.array([8.5, 1.0, 0.9, 0.2, 0.1])
    # t=10: null share 0, real share 1/5 -> ok; t=9: 0 <= .5*.4; t=8: null 1/5 <= .5*3/5 -> ok
    # t=1: null 2/5 <= .5 * 4/5 = .4 -> ok (equal); t=.5: null 3/5 > .5
    assert fdr_threshold(real, null, 0.5) == 1.0
    assert fdr_threshold(real, null, 0.1) == 9.0
    assert fdr_threshold(real, np.full(5, 100.0), 0.05) == float("inf")  # the null beats everything
    assert fdr_threshold(real, np.zeros(5), 0.05) == 0.5  # the null never reaches a positive score
    assert fdr_threshold(np.array([-1.0, -2.0]), null, 0.5) == float("inf")


def test_noise_like_its_null_gives_few_calls_and_planted_signal_is_found():
    rng = np.random.default_rng(0)
    null = rng.standard_normal((400, 100))
    real = rng.standard_normal((400, 100))
    t = fdr_threshold(window_scores(real, 5), window_scores(null, 5), 0.05)
    assert t > 8 or t == float("inf")  # nothing stands out of pure noise
    real[:50, 40:46] += 6.0
    t = fdr_threshold(window_scores(real, 5), window_scores(null, 5), 0.05)
    seqlets = call_seqlets(real, 5, t, np.inf)
    found = {s.row for s in seqlets if s.start <= 42 and s.end >= 44}
    assert len(found) >= 48
    # the rate is controlled among windows called: noise rows hold few of them
    called = window_scores(real, 5) >= t
    assert called[50:].sum() <= 0.1 * called.sum()


def test_call_merges_overlapping_hits_and_handles_signs():
    values = np.zeros((2, 20))
    values[0, 5:9] = 1.0
    values[1, 10:12] = -2.0
    seqlets = call_seqlets(values, 2, t_pos=1.5, t_neg=3.5, flank=1)
    assert Seqlet(0, 4, 10, 4.0) in seqlets
    assert Seqlet(1, 9, 13, -4.0) in seqlets
    assert len(seqlets) == 2


def test_bed9_in_genome_coordinates_on_both_strands(tmp_path):
    seqlets = [Seqlet(0, 2, 5, 3.0), Seqlet(1, 2, 5, -1.5), Seqlet(1, 0, 3, 0.75)]
    n = write_seqlets_bed(tmp_path / "s.bed", seqlets, ["chr1", "chr1"], np.array([100, 10]), np.array([120, 30]),
                          ["+", "-"], {"chr1": 1000}, "pos.lrp.")
    lines = [line.split("\t") for line in (tmp_path / "s.bed").read_text().splitlines()]
    assert n == 3 and all(len(fields) == 9 for fields in lines)
    # - strand window [10, 30): window positions [2, 5) are genome [25, 28), [0, 3) are [27, 30)
    assert [fields[:3] for fields in lines] == [["chr1", "25", "28"], ["chr1", "27", "30"], ["chr1", "102", "105"]]
    assert [fields[4] for fields in lines] == ["500", "250", "1000"]
    assert [fields[8] for fields in lines] == ["0,0,255", "255,0,0", "255,0,0"]
    assert [fields[5] for fields in lines] == ["-", "-", "+"]


def test_seqlets_take_the_name_of_the_motif_they_overlap_most(tmp_path):
    from seqlrp.analysis.seqlets import name_seqlets

    (tmp_path / "s.bed").write_text(
        "chr1\t100\t120\tc.m.0\t900\t+\t100\t120\t255,0,0\n"
        "chr1\t200\t210\tc.m.1\t300\t-\t200\t210\t0,0,255\n"
        "chr2\t100\t120\tc.m.2\t100\t+\t100\t120\t255,0,0\n"
    )
    (tmp_path / "i.bed").write_text("chr1\t95\t104\tc.m.pos_1\t0\t+\nchr1\t104\t118\tc.m.pos_0\t0\t-\nchr2\t120\t130\tc.m.pos_0\t0\t+\n")
    named = name_seqlets(tmp_path / "s.bed", tmp_path / "i.bed", {"c.m.pos_0": "CTCF(MA0139.2)"}, tmp_path / "out.bed")
    rows = [line.split("\t") for line in (tmp_path / "out.bed").read_text().splitlines()]
    assert named == 1
    assert [r[3] for r in rows] == ["CTCF(MA0139.2)", "c.m.1", "c.m.2"]  # chr2: touching at 120 is no overlap
    assert all(len(r) == 9 for r in rows) and rows[0][8] == "255,0,0"


def _fdr_by_sorting(real, null, fdr):
    """The definition: sort every real score, take the smallest positive one whose FDR holds."""
    real = np.sort(np.asarray(real, dtype=np.float64).ravel())[::-1]
    null = np.sort(np.asarray(null, dtype=np.float64).ravel())
    if real.size == 0 or null.size == 0:
        return float("inf")
    real_share = np.arange(1, real.size + 1) / real.size
    null_share = (null.size - np.searchsorted(null, real, side="left")) / null.size
    ok = (real > 0) & (null_share <= fdr * real_share)
    return float(real[np.flatnonzero(ok).max()]) if ok.any() else float("inf")


def test_threshold_from_chunks_equals_sorting_every_score():
    from seqlrp.analysis.seqlets import FdrThreshold

    rng = np.random.default_rng(4)
    for _ in range(500):
        real = np.round(rng.normal(rng.normal(), 1, rng.integers(0, 80)), rng.integers(0, 3))  # ties too
        null = np.round(rng.normal(0, 1, rng.integers(0, 30)), rng.integers(0, 3))
        fdr = rng.choice([0.05, 0.2, 1.0])
        streamed = FdrThreshold(null, fdr)
        for chunk in np.array_split(real, rng.integers(1, 6)):
            streamed.add(chunk)
        assert streamed.value() == _fdr_by_sorting(real, null, fdr) == fdr_threshold(real, null, fdr)


def test_calls_per_chunk_joined_per_sign_equal_one_call():
    from seqlrp.analysis.seqlets import call_seqlets_by_sign

    rng = np.random.default_rng(5)
    values = rng.normal(0, 0.1, size=(23, 80))
    values[rng.random(23) < 0.5, 30:40] += 2.0
    values[rng.random(23) < 0.5, 60:70] -= 2.0
    whole = call_seqlets(values, 8, 1.0, 1.0, flank=2)
    positive, negative = [], []
    for lo in range(0, 23, 5):
        found = call_seqlets_by_sign(values[lo : lo + 5], 8, 1.0, 1.0, flank=2, first_row=lo)
        positive, negative = positive + found[0], negative + found[1]
    assert positive + negative == whole and positive and negative

"""Motifs stage: PWM/CWM construction, TOMTOM against JASPAR, q-values, discovery end to end."""

import csv
import importlib

import numpy as np
import pytest
from Bio import motifs as biomotifs
from conftest import store_from_arrays

from seqlrp.analysis.motifs import (
    Motif,
    build_motifs,
    cwm_from_seqlets,
    cwm_probabilities,
    information_content,
    meme_entries,
    pwm_from_seqlets,
    run_modisco,
    select_windows,
    trim_bounds,
    trim_seqlets,
    write_instances_bed,
)
from seqlrp.analysis.tomtom import (
    Hit,
    best_hits,
    bh_qvalues,
    fetch_jaspar,
    load_database,
    read_tomtom_tsv,
    save_database,
    tomtom_hits,
)
from seqlrp.formats.meme import write_meme
from seqlrp.stages.motifs import run

CTCF = "MA0139.2"


@pytest.fixture(scope="module")
def jaspar(tmp_path_factory):
    """JASPAR CORE vertebrates, written and read back through the run's cache format."""
    path = tmp_path_factory.mktemp("jaspar") / "jaspar.npz"
    save_database(fetch_jaspar("CORE", ["vertebrates"]), path)
    return path, load_database(path)


def onehot_of(seqs: list[str]) -> np.ndarray:
    """(n, 4, L) float32 one-hot of equal-length ACGT strings (N -> zeros)."""
    out = np.zeros((len(seqs), 4, len(seqs[0])), dtype=np.float32)
    for i, seq in enumerate(seqs):
        for j, base in enumerate(seq):
            if base in "ACGT":
                out[i, "ACGT".index(base), j] = 1
    return out


@pytest.fixture(scope="module", autouse=True)
def modisco_compiles_before_numba_threads_start():
    """Start tfmodisco-lite's kernel compiles before any test of this module runs.

    tfmodisco-lite compiles its numba kernels in forked children, into numba's cache, and caches
    them at all only when it can fork safely: no Python thread but the main one, and numba's
    threading layer not started (its OpenMP layer is not fork safe). TOMTOM (memelite) starts that
    layer, and a tqdm progress bar (the diagnostics stage's, in another test file) leaves tqdm's
    monitor thread running; after either, discovery compiled every kernel in this process (about
    20 s instead of 5 s, a minute and more with an empty cache), so the tests were fast only in
    file order. Here the monitor is stopped (none starts while this module runs) and the compiles
    start at once, whatever ran before or runs first.
    """
    from tqdm import tqdm

    interval = tqdm.monitor_interval
    tqdm.monitor_interval = 0
    if tqdm.monitor is not None:
        tqdm.monitor.exit()
        tqdm.monitor = None
    try:
        precompile = importlib.import_module("modiscolite.precompile")
    except ImportError:  # a tfmodisco-lite without it compiles on first call, in any order
        precompile = None
    if precompile is not None:
        precompile.start()  # what TFMoDISco() calls first; later calls do nothing
    yield
    tqdm.monitor_interval = interval


def planted_data(pwm: np.ndarray, n: int = 150, length: int = 100, seed: int = 0):
    """Random windows, each with one instance sampled from ``pwm`` (4, w) on a random strand, and
    hypothetical contributions that are the motif's log-odds over the instance plus weak noise."""
    rng = np.random.default_rng(seed)
    width = pwm.shape[1]
    codes = rng.integers(0, 4, size=(n, length))
    hyp = rng.normal(0, 0.02, size=(n, 4, length))
    log_odds = np.log2(pwm + 0.01) - np.log2(0.25)
    starts, reverse = rng.integers(5, length - width - 5, size=n), rng.random(n) < 0.5
    for i in range(n):
        instance = (rng.random(width)[None, :] > np.cumsum(pwm, axis=0)).sum(axis=0).clip(max=3)
        site, scores = (3 - instance[::-1], log_odds[::-1, ::-1]) if reverse[i] else (instance, log_odds)
        codes[i, starts[i] : starts[i] + width] = site
        hyp[i, :, starts[i] : starts[i] + width] = scores
    onehot = np.zeros((n, 4, length), dtype=np.float32)
    np.put_along_axis(onehot, codes[:, None, :], 1.0, axis=1)
    return onehot, hyp.astype(np.float32), starts, reverse


CONFIG = dict(max_windows=1000, max_seqlets=1000, window=15, flank=5, seqlet_fdr=0.2, min_metacluster=20, min_cluster=15,
              leiden_runs=5, trim_threshold=0.3, pseudocount=0.5, max_hits=5, q_threshold=0.05, n_regions=2, region_width=200)


def test_discovery_end_to_end_recovers_planted_jaspar_motif(tmp_path, jaspar):
    db_path, db = jaspar
    onehot, hyp, starts, _ = planted_data(db.matrices[db.index(CTCF)])
    attr = tmp_path / "attr"
    with open(tmp_path / "regions.tsv", "w") as handle:
        handle.write("chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n")
        for i in range(len(onehot)):
            handle.write(f"chr1\t{1000 * i}\t{1000 * i + 100}\t{'+-'[i % 2]}\tw{i}\tbound\ttest\t{i}\t{i / 10}\t1\n")
    store_from_arrays(attr, onehot, onehot * hyp, hyp, (tmp_path / "regions.tsv").read_text(), "bound", "lrp")
    truth = tmp_path / "truth.bed"
    truth.write_text(f"chr1\t{149000 + 100 - starts[149] - 15}\t{149000 + 100 - starts[149]}\t{CTCF}\t0\t+\n")
    out = tmp_path / "out"
    names = dict(meme="motifs.meme", npz="motifs.npz", instances="instances.bed", tomtom="tomtom.tsv",
                 summary="motifs.tsv", logos="logos", regions="regions")
    outputs = {key: str(out / value) for key, value in names.items()}
    assert run(CONFIG, attr, tmp_path / "onehot.npy", db_path, outputs, truth_path=truth, threads=2) >= 1

    summary = list(csv.DictReader(open(out / "motifs.tsv"), delimiter="\t"))
    found = [row for row in summary if row["best_id"] == CTCF and row["significant"] == "true"]
    assert found and float(found[0]["q_value"]) < 0.05 and found[0]["motif"].startswith("bound.lrp.pos_")
    hits = read_tomtom_tsv(out / "tomtom.tsv")
    assert any(h.target_id == CTCF and h.q_value < 0.05 for h in hits)
    queries = [h.query for h in hits]
    assert queries == sorted(queries, key=queries.index)  # grouped by query
    assert {m.name for m in biomotifs.parse(open(out / "motifs.meme"), "minimal")} >= {found[0]["motif"],
                                                                                      found[0]["motif"] + ".cwm"}
    short = found[0]["motif"].rsplit(".", 1)[1]
    assert (out / "logos" / f"{short}.png").stat().st_size > 5000 and (out / "logos" / f"{short}.svg").exists()
    assert len(list((out / "regions").glob("*.png"))) == 2
    assert (out / "regions" / "01.chr1_149000_149100.png").exists()  # highest logit first
    track, *instances = (out / "instances.bed").read_text().splitlines()
    assert track.startswith('track name="bound lrp motif instances"') and 'itemRgb="On"' in track
    assert len(instances) >= int(found[0]["n_seqlets"])
    # the seqlets of the CTCF motif sit on the planted instances, named after the matched factor
    hits_planted = 0
    for line in instances:
        chrom, lo, hi, name = line.split("\t")[:4]
        i = int(lo) // 1000
        lo_site = 1000 * i + starts[i] if i % 2 == 0 else 1000 * i + 100 - starts[i] - 15  # odd rows: - windows
        site = (lo_site, lo_site + 15)
        hits_planted += name == f"{found[0]['best_name']}({CTCF})" and int(lo) < site[1] and int(hi) > site[0]
    assert hits_planted >= 0.9 * int(found[0]["n_seqlets"])


def test_no_motif_gives_empty_outputs(tmp_path, jaspar):
    db_path, _ = jaspar
    rng = np.random.default_rng(1)
    onehot = np.zeros((40, 4, 60), dtype=np.float32)
    np.put_along_axis(onehot, rng.integers(0, 4, size=(40, 1, 60)), 1.0, axis=1)
    attr = store_from_arrays(
        tmp_path / "attr", onehot, onehot, rng.normal(0, 0.01, size=onehot.shape).astype(np.float32),
        "chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n"
        + "".join(f"chr1\t{100 * i}\t{100 * i + 60}\t+\tw{i}\tc\ttest\t{i}\t0.5\t0\n" for i in range(40)))
    outputs = {key: str(tmp_path / "out" / name) for key, name in (("meme", "motifs.meme"), ("npz", "motifs.npz"),
               ("instances", "i.bed"), ("tomtom", "tomtom.tsv"), ("summary", "motifs.tsv"), ("logos", "logos"),
               ("regions", "regions"))}
    assert run(dict(CONFIG, n_regions=1), attr, tmp_path / "onehot.npy", db_path, outputs) == 0
    assert (tmp_path / "out" / "motifs.tsv").read_text().count("\n") == 1  # header only
    assert (tmp_path / "out" / "tomtom.tsv").read_text().startswith("query\ttarget_id")
    assert (tmp_path / "out" / "motifs.meme").read_text().startswith("MEME version 4")
    assert (tmp_path / "out" / "logos").is_dir() and len(list((tmp_path / "out" / "regions").iterdir())) == 1


def test_one_signed_contributions_give_no_motifs_not_a_crash():
    # tfmodisco-lite's seqlet null fails on contributions of one sign (an untrained model can give them)
    rng = np.random.default_rng(2)
    onehot = np.zeros((3, 4, 120), dtype=np.float32)
    np.put_along_axis(onehot, rng.integers(0, 4, size=(3, 1, 120)), 1.0, axis=1)
    hyp = -np.abs(rng.normal(size=onehot.shape)).astype(np.float32)
    assert run_modisco(onehot, hyp, np.arange(3), CONFIG) == []
    assert run_modisco(onehot[:, :, :10], hyp[:, :, :10], np.arange(3), CONFIG) == []  # shorter than the window


def test_bh_qvalues_by_hand():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    # sorted 0.01 0.03 0.04 0.5 -> x m/rank: 0.04 0.06 0.0533 0.5 -> running minimum from the top
    np.testing.assert_allclose(bh_qvalues(p), [0.04, 0.16 / 3, 0.16 / 3, 0.5])
    rows = bh_qvalues(np.array([[0.01, 0.04, 0.03, 0.5], [0.9, 0.8, 0.95, 0.99]]))
    np.testing.assert_allclose(rows[0], bh_qvalues(p))  # each row on its own
    np.testing.assert_allclose(rows[1], [0.99, 0.99, 0.99, 0.99])
    assert bh_qvalues(np.array([0.6, 0.7]))[0] <= 1.0


def test_tomtom_finds_a_jaspar_matrix_against_itself(jaspar):
    _, db = jaspar
    assert len(db) > 500 and CTCF in db.ids
    ctcf = db.matrices[db.index(CTCF)]
    padded = np.concatenate([np.full((4, 3), 0.25), ctcf], axis=1)
    hits = tomtom_hits({"self": ctcf, "revcomp": ctcf[::-1, ::-1].copy(), "padded": padded, "core": ctcf[:, 3:12].copy()},
                       db, max_hits=5)
    best = {}
    for hit in hits:
        best.setdefault(hit.query, hit)  # hits come sorted by p-value within a query
    assert [h.query for h in hits][::5] == ["self", "revcomp", "padded", "core"]
    for query in best:
        assert best[query].target_id == CTCF and best[query].target_name == "CTCF", query
        assert best[query].q_value < 1e-6
    assert (best["self"].strand, best["self"].offset) == ("+", 0)
    assert best["revcomp"].strand == "-"
    assert best["padded"].offset == -3  # query column 0 faces target column -3
    assert best["core"].offset == 3
    ps = [h.p_value for h in hits if h.query == "self"]
    assert ps == sorted(ps)


def test_tomtom_table_round_trips(tmp_path):
    from seqlrp.analysis.tomtom import write_tomtom_tsv

    hits = [Hit("m.pos_0", "MA0139.2", "CTCF", 1.5e-20, 2e-17, -1, 15, "-")]
    write_tomtom_tsv(tmp_path / "t.tsv", hits)
    assert (tmp_path / "t.tsv").read_text().splitlines()[0].split("\t")[:5] == ["query", "target_id", "target_name",
                                                                                "p_value", "q_value"]
    assert read_tomtom_tsv(tmp_path / "t.tsv") == hits


def test_pwm_and_cwm_from_hand_made_seqlets():
    onehot = onehot_of(["AACGTA", "TTGCAN"])
    hyp = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6) / 10
    # window 0 [1, 4) = ACG forward; window 1 [1, 4) = TGC read on the reverse strand = GCA
    seqlets = np.array([[0, 1, 4, 0], [1, 1, 4, 1]])
    pwm = pwm_from_seqlets(onehot, seqlets, pseudocount=0.5)
    counts = np.array([[1, 0, 1], [0, 2, 0], [1, 0, 1], [0, 0, 0]]) + 0.5  # A/C/G/T rows: ACG + GCA
    np.testing.assert_allclose(pwm, counts / counts.sum(axis=0))
    contributions = onehot * hyp
    cwm = cwm_from_seqlets(contributions, seqlets)
    expected = (contributions[0, :, 1:4] + contributions[1, ::-1, 1:4][:, ::-1]) / 2
    np.testing.assert_allclose(cwm, expected)
    # an N base adds only the pseudocount
    assert pwm_from_seqlets(onehot, np.array([[1, 5, 6, 0]]), pseudocount=1.0).tolist() == [[0.25]] * 4


def test_trim_to_informative_core():
    cwm = np.zeros((4, 8))
    cwm[0, 2], cwm[1, 3], cwm[3, 5] = 0.1, 1.0, -0.4  # |score| 0.1, 1.0, 0.4
    assert trim_bounds(cwm, 0.3) == (3, 6)
    assert trim_bounds(np.zeros((4, 5))) == (0, 5)
    seqlets = np.array([[0, 10, 18, 0], [1, 10, 18, 1]])
    # pattern columns [3, 6): forward [13, 16); reverse reads from the end: [18 - 6, 18 - 3)
    assert trim_seqlets(seqlets, 3, 6).tolist() == [[0, 13, 16, 0], [1, 12, 15, 1]]


def test_cwm_probabilities_and_information_content():
    cwm = np.array([[0.9, -0.2, 0.0], [0.1, -0.6, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.0]])
    p = cwm_probabilities(cwm, sign=1, floor=0.0)
    np.testing.assert_allclose(p[:, 0], [0.9, 0.1, 0, 0])
    np.testing.assert_allclose(p[:, 1], [0, 0, 1, 0])  # only the positive contribution counts
    np.testing.assert_allclose(p[:, 2], [0.25] * 4)  # nothing: uniform
    np.testing.assert_allclose(cwm_probabilities(cwm, sign=-1, floor=0.0)[:, 1], [0.25, 0.75, 0, 0])
    assert np.allclose(cwm_probabilities(cwm, 1).sum(axis=0), 1) and cwm_probabilities(cwm, 1).min() > 0
    ic = information_content(np.array([[1.0, 0.25, 0.5], [0, 0.25, 0.5], [0, 0.25, 0], [0, 0.25, 0]]))
    np.testing.assert_allclose(ic.sum(axis=0), [2.0, 0.0, 1.0])


def test_select_windows_highest_logit_first():
    assert select_windows(np.array([0.5, 3.0, 1.0, 3.0]), 3).tolist() == [1, 3, 2]
    assert select_windows(np.array([1.0, 2.0]), 10).tolist() == [1, 0]


def test_meme_entries_and_instances(tmp_path):
    pwm = np.full((4, 5), 0.25)
    motif = Motif("pos.lrp.pos_0", 1, pwm, np.eye(4, 5), np.zeros((4, 5)), np.array([[0, 2, 7, 0], [1, 3, 8, 1]]))
    entries = meme_entries([motif])
    assert [e.identifier for e in entries] == ["pos.lrp.pos_0", "pos.lrp.pos_0.cwm"]
    write_meme(entries, tmp_path / "m.meme")
    with open(tmp_path / "m.meme") as handle:
        assert [m.name for m in biomotifs.parse(handle, "minimal")] == ["pos.lrp.pos_0", "pos.lrp.pos_0.cwm"]
    # window 0 on +: [100 + 2, 100 + 7) +; window 1 on - with end 300: [300 - 8, 300 - 3), reverse motif -> +
    write_instances_bed(tmp_path / "i.bed", [motif], ["chr1", "chr2"], np.array([100, 200]), np.array([200, 300]), ["+", "-"])
    assert (tmp_path / "i.bed").read_text().splitlines() == ["chr1\t102\t107\tpos.lrp.pos_0\t0\t+\t102\t107\t255,0,0",
                                                            "chr2\t292\t297\tpos.lrp.pos_0\t0\t+\t292\t297\t255,0,0"]
    hits = [Hit("pos.lrp.pos_0", "X", "x", 1e-3, 0.2, 0, 5, "+"), Hit("pos.lrp.pos_0.cwm", "Y", "y", 1e-4, 0.01, 0, 5, "+")]
    assert best_hits([motif], hits)["pos.lrp.pos_0"] == (hits[1], "cwm")


def test_build_motifs_drops_narrow_and_numbers_per_sign():
    onehot = onehot_of(["ACGTACGTAC"] * 3)
    hyp = np.ones_like(onehot)
    seqlets = np.array([[0, 0, 6, 0], [1, 0, 6, 0], [2, 0, 6, 1]])
    motifs = build_motifs(onehot, hyp, [(1, seqlets), (-1, seqlets), (1, seqlets)], "c.m.")
    assert [m.identifier for m in motifs] == ["c.m.pos_0", "c.m.neg_0", "c.m.pos_1"]
    assert motifs[0].width == 6 and motifs[0].n_seqlets == 3
    assert build_motifs(onehot, hyp, [(1, seqlets)], "c.m.", min_width=7) == []


def test_modisco_inputs_are_the_windows_tfmodisco_gets_as_npz(tmp_path):
    from seqlrp.stages.motifs import write_modisco_inputs

    rng = np.random.default_rng(6)
    onehot = np.zeros((30, 4, 50), dtype=np.float32)
    np.put_along_axis(onehot, rng.integers(0, 4, size=(30, 1, 50)), 1.0, axis=1)
    hyp = rng.normal(size=onehot.shape).astype(np.float32)
    logits = rng.permutation(30) / 10
    lines = [f"chr1\t{100 * i}\t{100 * i + 50}\t+\tw{i}\tc\ttest\t{i}\t{logits[i]}\t0\n" for i in range(30)]
    header = "chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n"
    store = store_from_arrays(tmp_path / "c.m", onehot, onehot * hyp, hyp, header + "".join(lines))
    out = {key: tmp_path / "modisco" / name for key, name in (("ohe", "ohe.npz"), ("hyp", "hyp.npz"),
                                                              ("regions", "regions.tsv"))}
    assert write_modisco_inputs(store, tmp_path / "onehot.npy", 12, out) == 12
    top = np.argsort(-logits, kind="stable")[:12]
    with np.load(out["ohe"]) as ohe, np.load(out["hyp"]) as back:  # what `modisco motifs -s -a` does
        assert ohe["arr_0"].dtype == np.float32 and back["arr_0"].shape == (12, 4, 50)
        np.testing.assert_array_equal(ohe["arr_0"], onehot[top])
        np.testing.assert_allclose(back["arr_0"], hyp[top], atol=2.0**-11 * np.abs(hyp).max())
    assert out["regions"].read_text() == header + "".join(lines[i] for i in top)

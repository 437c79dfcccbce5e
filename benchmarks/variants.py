"""Variant scoring: throughput against tangermeme's variant effect, explanation against ISM, and the
peak memory of a streamed shard.

One synthetic setup: a random genome (``--chroms`` x ``--chrom-len``, seeded, bgzip FASTA with its
index, in a temporary directory), a seqlrp CNN of the demo's size (``build("cnn",
seq_len=--seq-len, n_classes=2)``, default hyperparameters, weights drawn with ``--seed``; untrained:
throughput and memory do not depend on the weights) or, with ``--model``, a trained seqlrp
checkpoint such as the demo's ``results/model/model.pt`` (its own ``seq_len``), and a bgzip VCF of
``--variants`` random SNVs (distinct positions at least ``seq_len`` from the chromosome ends, sorted,
ALT drawn among the three other bases), written with vectorised numpy text.

**1. Scores only**, per variant both alleles' class logits and their difference ``delta``:

* ``seqlrp.variants.score(model, genome, vcf, methods={}, null_size=0)``: the whole API path from
  the files (VCF parsed and checked against the genome, windows cut, both alleles predicted, the
  table built);
* tangermeme's ``substitution_effect(model, X, substitutions, batch_size=..., device="cpu")`` on the
  same SNVs: ``X`` the reference windows (N, 4, L) float32 (the variant at index ``L // 2``, as
  seqlrp places it) and ``substitutions`` (N, 3) int64 rows ``(example, position, alphabet index of
  ALT)``, its COO format; ``delta = y_after - y_before``. Two rows: the call alone on prebuilt
  inputs, and the call plus building the inputs from the same files the way one would by hand
  (pandas reads the VCF, pysam fetches each chromosome once, numpy gathers the windows);
* breakdown: seqlrp's reading and windowing alone (``iter_variants`` + ``windows.batches``, no model).

Before timing, the deltas are checked: seqlrp's exact deltas (``VariantScorer.delta``, float64 of
the float32 logits) of the first ``--check`` variants against tangermeme's (``allclose``, atol 1e-5;
the largest difference is printed), and the API table's ``delta`` column of every variant and
class against tangermeme's (rtol 1e-5, atol 1e-5: loose enough for a table rounded to 6 digits).
Both run with the same ``--batch`` windows per forward pass (seqlrp predicts the reference and the
alternative batch separately, as tangermeme does) and ``--threads`` torch threads.

**2. With explanations**: seqlrp's LRP (epsilon-plus, ``methods={"lrp": {}}``) of both alleles,
class ``--class``: ``VariantScorer.score(batch, {}, classes=[c])`` over ``windows.batches`` (the
stage's per-batch code, one class) on the first ``--explain-variants`` SNVs, and the API
(``seqlrp.variants.score(..., methods={"lrp": {}}, null_size=0)``), which explains every class (K
of them); against in-silico mutagenesis as the naive explanation of the reference window (every
single-base substitution: 3L forward passes per variant) on the first ``--ism-variants`` windows:
``seqlrp.attribution.baselines.ism`` (``--ism-batch`` mutants per pass) and tangermeme's
``saturation_mutagenesis`` (``fast=True``: fastISM where it decides it pays, i.e. when the job
would take over 30 s otherwise; ``batch_size=--ism-batch`` edits of one window per pass),
explaining class ``--class``.

Timing: every method runs once on a few variants first (warm-up); then ``--repeats`` rounds run
every method of a section once, methods interleaved so that load from other processes hits all
of them; the table shows the median wall seconds of a round, the fastest round, variants per
second and ``time_vs_seqlrp``, the time per variant relative to the first (seqlrp) row of its
section (> 1: slower than seqlrp).

**3. Memory** (``--memory-snvs`` N, default 100,000; 1,000,000 with ``--million``; 0 skips it): a
bgzip VCF of N random SNVs (same genome) is scored along the pipeline's code path, each rule's
function in a fresh subprocess (the figure is that process's peak resident memory,
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, so nothing this process allocated counts; Linux would
fold this process's RSS into a directly forked child's ``ru_maxrss``, so a small shell starts it, and
its ``VmHWM`` checks the figure):
``index_variants`` (index.json), ``build_null`` (``--memory-null`` shuffled-context variants, the
p-values' null) and ``score_shard`` (every row in one shard, ``explain: false``, ``maps: false``,
``motifs: none``: it streams ``scores.tsv`` to disk batch by batch). ``score_shard`` is also run on
``--memory-small`` SNVs, and the difference gives the memory that grows with N (MB per 1,000
variants; 0 for a streaming job); the same for ``seqlrp.variants.score`` (scores only), which
builds its DataFrame in memory, with ``--memory-api`` (it costs as much time again).

Threads: one by default. Under ``nice`` on a shared two-core machine, two torch threads wait at
every operation whenever another process holds the other core: the shard of 20,000 SNVs took 59 s
with two threads and 6.3 s with one, under the same load. Figures on a shared machine are noisy;
run it under ``nice``, and compare rows of one run only. Results: the table on stdout and a
TSV (``--out``, default ``results/benchmarks/variants.tsv``), memory rows included.

    nice python benchmarks/variants.py [--variants 2000] [--seq-len 200] [--batch 64] [--threads 1]
        [--explain-variants 2000] [--ism-variants 50] [--repeats 3] [--memory-snvs 100000] [--memory-api]
        [--model results/model/model.pt] [--profile] [--out results/benchmarks/variants.tsv]
    nice python benchmarks/variants.py --million --variants 0   # memory only, 1,000,000 SNVs
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pysam
import torch

REPO = Path(__file__).resolve().parents[1]
COLUMNS = ("section", "method", "variants", "seconds", "best_seconds", "variants_per_s", "time_vs_seqlrp",
           "peak_rss_mb", "mb_per_1000_variants", "note")
LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)


# --- inputs -------------------------------------------------------------------------------------

def write_genome(path: Path, n_chroms: int, length: int, seed: int) -> dict[str, np.ndarray]:
    """A random genome (bgzip FASTA + .fai/.gzi) of ``n_chroms`` x ``length`` bases; its codes by name."""
    rng = np.random.default_rng(seed)
    plain = path.with_suffix("")
    codes = {}
    with open(plain, "wb") as handle:
        for i in range(n_chroms):
            name = f"chr{i + 1}"
            codes[name] = rng.integers(0, 4, size=length, dtype=np.uint8)
            text = LETTERS[codes[name]]
            pad = (-length) % 80
            lines = np.concatenate([text, np.full(pad, ord("\n"), np.uint8)]).reshape(-1, 80)
            block = np.concatenate([lines, np.full((len(lines), 1), ord("\n"), np.uint8)], axis=1).ravel()
            handle.write(f">{name}\n".encode() + block[: block.size - pad].tobytes())
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    pysam.faidx(str(path))
    return codes


def random_snvs(codes: dict[str, np.ndarray], n: int, margin: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` SNVs at distinct positions at least ``margin`` from either chromosome end, sorted by
    chromosome and position: ``chrom`` (index into ``codes``), ``pos`` (1-based), ``ref``/``alt``
    codes (0..3, ALT != REF)."""
    rng = np.random.default_rng(seed)
    names = list(codes)
    usable = np.array([len(codes[name]) - 2 * margin for name in names], dtype=np.int64)
    if n > usable.sum():
        raise SystemExit(f"{n} SNVs do not fit in {usable.sum()} usable positions: enlarge --chroms/--chrom-len")
    flat = np.sort(rng.choice(int(usable.sum()), size=n, replace=False))
    offsets = np.concatenate([[0], np.cumsum(usable)])
    chrom = np.searchsorted(offsets, flat, side="right") - 1
    pos0 = flat - offsets[chrom] + margin  # 0-based
    ref = np.empty(n, dtype=np.uint8)
    for k, name in enumerate(names):
        sel = chrom == k
        ref[sel] = codes[name][pos0[sel]]
    alt = ((ref + rng.integers(1, 4, size=n)) % 4).astype(np.uint8)
    return {"chrom": chrom, "pos": pos0 + 1, "ref": ref, "alt": alt}


def write_vcf(path: Path, codes: dict[str, np.ndarray], snvs: dict[str, np.ndarray]) -> Path:
    """A bgzip VCF (``path``, ``.vcf.gz``) of ``snvs``; the text is built with numpy, one array op per column."""
    names = np.array(list(codes))
    header = ["##fileformat=VCFv4.2", *(f"##contig=<ID={name},length={len(c)}>" for name, c in codes.items()),
              "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    n = len(snvs["pos"])
    letters = np.array(list("ACGT"))
    plain = path.with_suffix("")
    with open(plain, "w") as handle:
        handle.write("\n".join(header) + "\n")
        for lo in range(0, n, 100_000):  # in chunks: the string arrays take ~200 bytes per line
            part = slice(lo, min(lo + 100_000, n))
            columns = [names[snvs["chrom"][part]], snvs["pos"][part].astype(str),
                       np.char.add("snv", np.arange(lo, part.stop).astype(str)), letters[snvs["ref"][part]],
                       letters[snvs["alt"][part]]]
            line = columns[0]
            for column in columns[1:]:
                line = np.char.add(np.char.add(line, "\t"), column)
            handle.write("\t.\t.\t.\n".join(line.tolist()) + "\t.\t.\t.\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def tangermeme_inputs(genome: Path, vcf: Path, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """tangermeme's inputs built by hand from the files: reference windows ``X`` (N, 4, L) float32,
    the SNV at ``L // 2``, and ``substitutions`` (N, 3) int64 ``(example, position, ALT index)``.
    SNVs only, away from the chromosome ends (what :func:`random_snvs` makes)."""
    import pandas as pd

    from seqlrp.formats.onehot import codes_from_str

    table = pd.read_csv(vcf, sep="\t", comment="#", header=None, usecols=[0, 1, 3, 4],
                        names=["chrom", "pos", "ref", "alt"], dtype={"chrom": str, "pos": np.int64})
    centre = seq_len // 2
    windows = np.empty((len(table), seq_len), dtype=np.uint8)
    with pysam.FastaFile(str(genome)) as fasta:
        for chrom, rows in table.groupby("chrom", sort=False).indices.items():
            sequence = codes_from_str(fasta.fetch(chrom))
            starts = table["pos"].to_numpy()[rows] - 1 - centre
            windows[rows] = np.lib.stride_tricks.sliding_window_view(sequence, seq_len)[starts]
    ref = codes_from_str("".join(table["ref"]))
    if not (windows[:, centre] == ref).all():
        raise AssertionError("tangermeme inputs: REF differs from the window's centre base")
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[windows].transpose(0, 2, 1).copy())
    alt = torch.from_numpy(codes_from_str("".join(table["alt"])).astype(np.int64))
    subs = torch.stack([torch.arange(len(table)), torch.full((len(table),), centre), alt], dim=1)
    return x, subs


# --- timing ---------------------------------------------------------------------------------------

def run_rounds(table: dict[str, Callable[[], object]], warmups: dict[str, Callable[[], object]],
               repeats: int) -> dict[str, list[float]]:
    """Wall seconds of ``repeats`` interleaved rounds of every method, after one warm-up call each."""
    for fn in warmups.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(repeats):
        for name, fn in table.items():
            tic = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - tic)
    return times


def section_rows(section: str, times: dict[str, list[float]], counts: dict[str, int], notes: dict[str, str]) -> list[dict]:
    rows = []
    for name, runs in times.items():
        wall = sorted(runs)[(len(runs) - 1) // 2]
        rows.append({"section": section, "method": name, "variants": counts[name], "seconds": wall,
                     "best_seconds": min(runs), "variants_per_s": counts[name] / wall, "note": notes.get(name, "")})
    base = rows[0]["seconds"] / rows[0]["variants"]
    for row in rows:
        row["time_vs_seqlrp"] = row["seconds"] / row["variants"] / base
    return rows


def _cell(row: dict, key: str, sep: str = ",") -> str:
    value = row.get(key)
    if value is None or value == "":
        return ""
    if key in ("seconds", "best_seconds"):
        return f"{value:.3f}"
    if key == "variants_per_s":
        return f"{value:{sep}.1f}" if value < 100 else f"{value:{sep}.0f}"
    if key == "time_vs_seqlrp":
        return f"{value:.2f}"
    if key in ("peak_rss_mb", "mb_per_1000_variants"):
        return f"{value:.1f}" if key == "peak_rss_mb" else f"{value:.3f}"
    return str(value)


def print_table(rows: list[dict]) -> None:
    widths = {"section": 9, "method": 58, "variants": 9, "seconds": 9, "best_seconds": 12, "variants_per_s": 14,
              "time_vs_seqlrp": 14}
    keys = list(widths)
    print(" ".join(f"{k:{widths[k]}s}" if i < 2 else f"{k:>{widths[k]}s}" for i, k in enumerate(keys)))
    for row in rows:
        if "seconds" not in row:
            continue
        print(" ".join(f"{_cell(row, k):{widths[k]}s}" if i < 2 else f"{_cell(row, k):>{widths[k]}s}"
                       for i, k in enumerate(keys)))


def write_tsv(path: Path, rows: list[dict]) -> None:
    from seqlrp.formats.atomic import atomic_write_text

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write_text(path) as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([_cell(row, key, sep="") for key in COLUMNS])


# --- sections 1 and 2 ---------------------------------------------------------------------------

def scorer_deltas(model, genome: Path, vcf: Path, seq_len: int, batch: int, n: int) -> np.ndarray:
    """seqlrp's exact deltas (n, K) of the first ``n`` variants (``VariantScorer.delta``)."""
    from seqlrp.formats.genome import Genome
    from seqlrp.formats.vcf import iter_variants
    from seqlrp.variants.scoring import VariantOptions, VariantScorer
    from seqlrp.variants.windows import batches

    scorer = VariantScorer(model, {}, torch.device("cpu"), VariantOptions(batch_size=batch, null_size=0, explain=False))
    out = []
    with Genome(genome) as fasta:
        for b in batches(iter_variants(vcf, fasta.lengths, fetch_ref=fasta.fetch), seq_len, fasta.fetch, batch,
                         row_range=(0, n)):
            out.append(scorer.delta(b))
    return np.concatenate(out)


def explain_one_class(model, genome: Path, vcf: Path, seq_len: int, batch: int, target: int, n: int) -> int:
    """LRP of both alleles, class ``target``, over the stage's batches of the first ``n`` variants."""
    from seqlrp.attribution.spec import MethodSpec
    from seqlrp.formats.genome import Genome
    from seqlrp.formats.vcf import iter_variants
    from seqlrp.variants.scoring import VariantOptions, VariantScorer
    from seqlrp.variants.windows import batches

    options = VariantOptions(batch_size=batch, null_size=0, explain=True, maps=False)
    scorer = VariantScorer(model, {"lrp": MethodSpec()}, torch.device("cpu"), options)
    done = 0
    with Genome(genome) as fasta:
        for b in batches(iter_variants(vcf, fasta.lengths, fetch_ref=fasta.fetch), seq_len, fasta.fetch, batch,
                         row_range=(0, n)):
            scorer.score(b, {}, classes=[target])
            done += len(b)
    return done


def windows_only(genome: Path, vcf: Path, seq_len: int, batch: int) -> int:
    from seqlrp.formats.genome import Genome
    from seqlrp.formats.vcf import iter_variants
    from seqlrp.variants.windows import batches

    with Genome(genome) as fasta:
        return sum(len(b) for b in batches(iter_variants(vcf, fasta.lengths, fetch_ref=fasta.fetch), seq_len,
                                           fasta.fetch, batch))


def check_deltas(model, genome: Path, vcf: Path, seq_len: int, batch: int, n_check: int, api_table, tm_delta: np.ndarray) -> str:
    """Assert seqlrp's and tangermeme's deltas agree; return the line that says by how much."""
    exact = scorer_deltas(model, genome, vcf, seq_len, batch, n_check)
    first = np.abs(exact - tm_delta[: len(exact)]).max()
    np.testing.assert_allclose(exact, tm_delta[: len(exact)], rtol=0, atol=1e-5,
                               err_msg="seqlrp and tangermeme deltas differ on the first variants")
    k = tm_delta.shape[1]
    from_table = api_table["delta"].to_numpy().reshape(-1, k)  # rows: variant, then class in the model's order
    expected = tm_delta
    np.testing.assert_allclose(from_table, expected, rtol=1e-5, atol=1e-5,
                               err_msg="seqlrp.variants.score's delta column differs from tangermeme's")
    return (f"deltas checked: first {len(exact)} variants, VariantScorer vs tangermeme, max |difference| {first:.2e} "
            f"(atol 1e-5); all {len(tm_delta)} x {k} deltas of the API table vs tangermeme, "
            f"max |difference| {np.abs(from_table - expected).max():.2e}")


def sections_1_2(args, model, seq_len: int, classes: list[str], tmp: Path, genome: Path, codes) -> list[dict]:
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis
    from tangermeme.variant_effect import substitution_effect

    import seqlrp.variants
    from seqlrp.attribution.baselines import ism

    snvs = random_snvs(codes, args.variants, seq_len, args.seed + 1)
    vcf = write_vcf(tmp / "snvs.vcf.gz", codes, snvs)
    warm = max(1, min(args.batch, args.variants) // 2)
    warm_vcf = write_vcf(tmp / "warm.vcf.gz", codes, {k: v[:warm] for k, v in snvs.items()})
    target = classes.index(args.cls) if args.cls in classes else int(args.cls)
    cpu = torch.device("cpu")

    def api(path, methods):
        return seqlrp.variants.score(model, genome, path, methods=methods, null_size=0, batch_size=args.batch, device=cpu)

    def tangermeme(x, subs):
        result = substitution_effect(model, x, subs, batch_size=args.batch, device=cpu)
        return (result.y_after - result.y_before).double().numpy()

    x, subs = tangermeme_inputs(genome, vcf, seq_len)
    x_warm, subs_warm = tangermeme_inputs(genome, warm_vcf, seq_len)
    tm_delta = tangermeme(x, subs)
    api_table = api(vcf, {})
    check = check_deltas(model, genome, vcf, seq_len, args.batch, min(args.check, args.variants), api_table, tm_delta)
    print(check)

    n = args.variants
    scores = {
        "seqlrp.variants.score, methods={}, null_size=0": lambda: api(vcf, {}),
        "tangermeme substitution_effect, inputs prebuilt": lambda: tangermeme(x, subs),
        "tangermeme substitution_effect + inputs from VCF and FASTA": lambda: tangermeme(*tangermeme_inputs(genome, vcf, seq_len)),
        "seqlrp VCF reading + windows only (no model)": lambda: windows_only(genome, vcf, seq_len, args.batch),
    }
    warmups = {
        "api": lambda: api(warm_vcf, {}),
        "tm": lambda: tangermeme(x_warm, subs_warm),
        "tm inputs": lambda: tangermeme_inputs(genome, warm_vcf, seq_len),
    }
    notes = {name: f"batch {args.batch}, {args.threads} threads" for name in scores}
    notes["seqlrp VCF reading + windows only (no model)"] = "breakdown of the seqlrp row"
    rows = section_rows("scores", run_rounds(scores, warmups, args.repeats), dict.fromkeys(scores, n), notes)

    if args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        api(vcf, {})
        profile.disable()
        print(f"\ncProfile of seqlrp.variants.score(methods={{}}, null_size=0) on {n} SNVs, top by own time:")
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.profile_top)
        print("top by cumulative time:")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile_top)

    if args.explain_variants > 0:
        n_explain = min(args.explain_variants, n)
        n_ism = min(args.ism_variants, n)
        k = len(classes)
        x_ism = x[:n_ism]

        def tm_ism(xs):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return saturation_mutagenesis(model, xs, batch_size=args.ism_batch, target=target, device=cpu)

        explain_vcf = vcf if n_explain == n else write_vcf(tmp / "explain.vcf.gz", codes,
                                                           {key: v[:n_explain] for key, v in snvs.items()})
        explain = {
            f"seqlrp LRP both alleles, class {classes[target]} (VariantScorer)":
                (n_explain, lambda: explain_one_class(model, genome, vcf, seq_len, args.batch, target, n_explain)),
            f"seqlrp.variants.score, methods lrp ({k} classes)":
                (n_explain, lambda: api(explain_vcf, {"lrp": {}})),
            f"ISM seqlrp.attribution.baselines.ism, ref window ({3 * seq_len} passes)":
                (n_ism, lambda: ism(model, x_ism, target, batch_size=args.ism_batch)),
            "ISM tangermeme saturation_mutagenesis, ref window":
                (n_ism, lambda: tm_ism(x_ism)),
        }
        warmups = {
            "one class": lambda: explain_one_class(model, genome, warm_vcf, seq_len, args.batch, target, warm),
            "api": lambda: api(warm_vcf, {"lrp": {}}),
            "ism": lambda: ism(model, x_ism[:2], target, batch_size=args.ism_batch),
            "tm ism": lambda: tm_ism(x_ism[:2]),
        }
        notes = {name: f"batch {args.batch}" for name in explain}
        for name in list(explain)[2:]:
            notes[name] = f"up to {args.ism_batch} mutants per pass"
        notes["ISM tangermeme saturation_mutagenesis, ref window"] += (f" (one window's {3 * seq_len} at most), "
                                                                       "fast=True: fastISM where tangermeme decides")
        times = run_rounds({name: fn for name, (_, fn) in explain.items()}, warmups, args.repeats)
        rows += section_rows("explain", times, {name: count for name, (count, _) in explain.items()}, notes)
    return rows


# --- section 3: memory in fresh subprocesses ----------------------------------------------------

def child(spec: dict) -> None:
    """One stage in this fresh process; prints {"seconds", "peak_rss_mb", "rows"} as JSON."""
    torch.set_num_threads(spec["threads"])
    tic = time.perf_counter()
    config = {"ref_mismatch": "refuse", "reverse_complement": False, "probability": "auto",
              "null_size": spec["null_size"], "explain": False, "maps": False, "motifs": "none",
              "batch_size": spec["batch"], "device": "cpu"}
    work = Path(spec["work"])
    inputs = {"model": spec["model"], "vcf": spec["vcf"], "genome": spec["genome"],
              "index": str(work / "index.json"), "null": str(work / "null.npz")}
    if spec["stage"] == "index":
        from seqlrp.stages.variants import index_variants

        rows = index_variants(config, spec["genome"], spec["vcf"], inputs["index"])["rows"]
    elif spec["stage"] == "null":
        from seqlrp.stages.variants import build_null

        rows = build_null(config, inputs, inputs["null"], seed=1, threads=spec["threads"])
    elif spec["stage"] == "shard":
        from seqlrp.stages.variants import score_shard

        outputs = {"scores": str(work / "scores.tsv")}
        rows = score_shard(config, {}, inputs, outputs, {}, None, seed=1, threads=spec["threads"], progress=False)
    elif spec["stage"] == "api":
        import seqlrp.variants
        from seqlrp.models import load_model

        table = seqlrp.variants.score(load_model(spec["model"]), spec["genome"], spec["vcf"], methods={}, null_size=0,
                                      batch_size=spec["batch"], device="cpu")
        rows = len(table)
    else:
        raise SystemExit(f"unknown stage {spec['stage']!r}")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    hwm_kb = None
    with contextlib.suppress(OSError), open("/proc/self/status") as handle:
        hwm_kb = next((int(line.split()[1]) for line in handle if line.startswith("VmHWM:")), None)
    print(json.dumps({"seconds": time.perf_counter() - tic, "peak_rss_mb": peak_kb / 1024, "rows": int(rows),
                      "vmhwm_mb": None if hwm_kb is None else hwm_kb / 1024}))


def run_child(spec: dict) -> dict:
    """Run :func:`child` in a fresh process and return what it printed.

    Linux folds the high-water mark of the memory a process had before ``exec`` into its
    ``ru_maxrss``: a child forked (or vforked) straight from this process would report at least this
    process's RSS. A small shell in between, which forks the child instead of exec'ing it, gives it
    a clean figure; the child's ``VmHWM`` (/proc, the peak of its own address space) checks it.
    """
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    if os.path.exists("/bin/sh"):
        command = ["/bin/sh", "-c", '"$@"; rc=$?; exit $rc', "sh", *command]  # not the shell's last-command exec
    out = subprocess.run(command, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    result = json.loads(out.stdout.strip().splitlines()[-1])
    hwm = result.get("vmhwm_mb")
    if hwm is not None and abs(result["peak_rss_mb"] - hwm) > 0.05 * hwm + 5:
        print(f"warning: {spec['stage']}: ru_maxrss {result['peak_rss_mb']:.1f} MB but VmHWM {hwm:.1f} MB",
              file=sys.stderr)
    return result


def memory(args, model_path: str, tmp: Path, genome: Path, codes, seq_len: int) -> list[dict]:
    rows = []
    small = min(args.memory_small, args.memory_snvs)
    runs = {}
    for label, n in (("small", small), ("large", args.memory_snvs)):
        tic = time.perf_counter()
        snvs = random_snvs(codes, n, seq_len, args.seed + 2)
        work = tmp / f"memory_{label}"
        work.mkdir()
        vcf = write_vcf(work / "snvs.vcf.gz", codes, snvs)
        del snvs
        made = time.perf_counter() - tic
        spec = {"model": model_path, "vcf": str(vcf), "genome": str(genome), "work": str(work), "threads": args.threads,
                "batch": args.batch, "null_size": args.memory_null}
        stages = ("index", "null", "shard", "api") if args.memory_api else ("index", "null", "shard")
        if label == "small":
            stages = tuple(s for s in stages if s in ("shard", "api"))
            spec["null_size"] = 0
            run_child({**spec, "stage": "index"})
            run_child({**spec, "stage": "null"})
        for stage in stages:
            runs[(label, stage)] = run_child({**spec, "stage": stage})
        print(f"memory: {n:,} SNVs written as bgzip VCF in {made:.1f} s; "
              + ", ".join(f"{s} {runs[(label, s)]['seconds']:.1f} s" for s in stages))
    names = {"index": "index_variants (stage variants_index)", "null": f"build_null, null_size {args.memory_null}",
             "shard": "score_shard, explain/maps off (stage variants_shard)",
             "api": "seqlrp.variants.score, methods={}, null_size=0"}
    n = args.memory_snvs
    for (label, stage), result in runs.items():
        if label != "large":
            continue
        row = {"section": "memory", "method": names[stage], "variants": n, "seconds": result["seconds"],
               "best_seconds": result["seconds"], "variants_per_s": n / result["seconds"],
               "peak_rss_mb": result["peak_rss_mb"], "note": f"fresh process, {args.threads} threads"}
        if ("small", stage) in runs and n > small:
            grown = result["peak_rss_mb"] - runs[("small", stage)]["peak_rss_mb"]
            row["mb_per_1000_variants"] = grown / (n - small) * 1000
            row["note"] += f"; {runs[('small', stage)]['peak_rss_mb']:.1f} MB at {small:,} SNVs"
        rows.append(row)
    return rows


def print_memory(rows: list[dict]) -> None:
    for row in rows:
        growth = row.get("mb_per_1000_variants")
        extra = (f", {growth:+.3f} MB per 1,000 variants beyond the {row['note'].split('; ')[1]}"
                 if growth is not None else "")
        print(f"memory: {row['method']}: peak RSS {row['peak_rss_mb']:.1f} MB for {row['variants']:,} SNVs "
              f"({row['peak_rss_mb'] / row['variants'] * 1000:.3f} MB per 1,000 variants{extra}); "
              f"{row['seconds']:.1f} s, {row['variants_per_s']:,.0f} variants/s")


# --- main ---------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=2000, help="SNVs of sections 1 and 2 (0: memory only)")
    parser.add_argument("--seq-len", type=int, default=200, help="window length of the built CNN")
    parser.add_argument("--model", help="a seqlrp checkpoint instead of the built CNN, e.g. results/model/model.pt")
    parser.add_argument("--class", dest="cls", default="1", help="class explained: a name or an index")
    parser.add_argument("--chroms", type=int, default=4)
    parser.add_argument("--chrom-len", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64, help="windows per forward pass, both tools")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, both tools (docstring: why 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--check", type=int, default=64, help="variants whose exact deltas are compared")
    parser.add_argument("--explain-variants", type=int, default=2000, help="SNVs explained by seqlrp (0: no section 2)")
    parser.add_argument("--ism-variants", type=int, default=50, help="reference windows explained by ISM")
    parser.add_argument("--ism-batch", type=int, default=1024, help="mutants per ISM forward pass")
    parser.add_argument("--memory-snvs", type=int, help="SNVs of the memory run (default 100,000; 1,000,000 with "
                                                        "--million; 0: none)")
    parser.add_argument("--million", action="store_true", help="the memory run on 1,000,000 SNVs")
    parser.add_argument("--memory-small", type=int, default=2000, help="SNVs of the small memory run (growth baseline)")
    parser.add_argument("--memory-null", type=int, default=100, help="shuffled-context variants of build_null")
    parser.add_argument("--memory-api", action="store_true", help="also the API's peak memory (as long again)")
    parser.add_argument("--profile", action="store_true", help="cProfile seqlrp.variants.score (scores only)")
    parser.add_argument("--profile-top", type=int, default=20)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "benchmarks" / "variants.tsv")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child))
        return 0
    if args.memory_snvs is None:
        args.memory_snvs = 1_000_000 if args.million else 100_000
    torch.set_num_threads(args.threads)
    from seqlrp.models import annotate, build, describe, load_model, save_model

    if args.model:
        if not Path(args.model).exists():
            print(f"error: {args.model} not found (make demo trains results/model/model.pt)", file=sys.stderr)
            return 1
        model = load_model(args.model).eval()
        what = f"model {args.model}"
    else:
        torch.manual_seed(args.seed)
        model = build("cnn", seq_len=args.seq_len, n_classes=2).eval()
        annotate(model, classes=["class0", "class1"])
        what = f"demo-size CNN (cnn defaults, seq_len {args.seq_len}, 2 classes, seed {args.seed}, untrained)"
    info = describe(model)
    seq_len, classes = info.seq_len, list(info.classes)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="seqlrp-bench-variants-") as tmp:
        tmp = Path(tmp)
        tic = time.perf_counter()
        genome = tmp / "genome.fa.gz"
        codes = write_genome(genome, args.chroms, args.chrom_len, args.seed)
        print(f"torch {torch.__version__}, {args.threads} threads, {what}; random genome {args.chroms} x "
              f"{args.chrom_len / 1e6:g} Mb ({time.perf_counter() - tic:.1f} s to write)")
        if args.variants > 0:
            rows += sections_1_2(args, model, seq_len, classes, tmp, genome, codes)
            print(f"median of {args.repeats} rounds; load average {os.getloadavg()[0]:.1f} at the end")
            print_table(rows)
        if args.memory_snvs > 0:
            model_path = args.model or str(tmp / "model.pt")
            if not args.model:
                save_model(model, model_path)
            memory_rows = memory(args, model_path, tmp, genome, codes, seq_len)
            print_memory(memory_rows)
            rows += memory_rows
    if args.out:
        write_tsv(args.out, rows)
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

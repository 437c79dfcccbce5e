"""The browser page (results/browser.html): its size, the time to build it, the time Chromium takes to open it.

Two kinds of input, side by side in one table:

* ``--page PATH`` (repeatable): pages a run already wrote, e.g. the demo's ``results/browser.html``;
  only opened (their build time is the ``browser`` rule's benchmark, ``results/benchmarks/browser.tsv``);
* a synthetic run of ``--windows`` windows (default 20,000) of ``--seq-len`` bases (500), 2 classes
  x 2 methods, built in a temporary folder: a random bgzip genome holding the windows end to end,
  per class a ``regions.tsv`` with random logits, per class and method a bigWig of random
  relevance at every base of every window (seqlrp's bigWig writer) and a seqlet BED of 3 seqlets
  per window; the page (``--per-list`` regions per list) is built ``--repeats`` times with
  :func:`seqlrp.report.browser.write_browser` (median seconds).

"Opens in": headless Chromium (Debian's ``chromium``, driven by Playwright) with every non-``file:``
request refused, from navigation to the page's ``data-ready`` flag and every track drawn (no
viewport loading), median of ``--repeats`` fresh page loads. Needs ``pip install playwright``
(the test extra); without it, or without Chromium, the column says so.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

from seqlrp.formats.bigwig import BigWigWriter
from seqlrp.report.browser import BrowserInputs, write_browser
from seqlrp.report.igv_bundle import load
from seqlrp.report.render_check import find_browser

CLASSES, METHODS = ("positive", "negative"), ("lrp", "plrp")


def synthetic_run(folder: Path, windows: int, seq_len: int, seed: int = 0) -> BrowserInputs:
    """The files of a run of ``windows`` windows (module docstring)."""
    rng = np.random.default_rng(seed)
    n_chroms = 8
    per_chrom = -(-windows // n_chroms)
    chrom_len = per_chrom * seq_len + 2 * seq_len
    sizes = {f"chr{i + 1}": chrom_len for i in range(n_chroms)}
    plain = folder / "genome.fa"
    with open(plain, "w") as handle:
        for chrom in sizes:
            bases = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, chrom_len)].tobytes().decode()
            handle.write(f">{chrom}\n" + "\n".join(bases[i:i + 60] for i in range(0, chrom_len, 60)) + "\n")
    genome = folder / "genome.fa.gz"
    pysam.tabix_compress(str(plain), str(genome), force=True)
    pysam.faidx(str(genome))
    (folder / "chrom_sizes.tsv").write_text("".join(f"{c}\t{n}\n" for c, n in sizes.items()))
    rows = [(f"chr{k // per_chrom + 1}", seq_len + (k % per_chrom) * seq_len) for k in range(windows)]
    tables, bigwigs, seqlets = {}, {}, {}
    for cls in CLASSES:
        tables[cls] = folder / f"{cls}.regions.tsv"
        with open(tables[cls], "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(["chrom", "start", "end", "strand", "name", "class", "split", "row", "logit", "relevance_sum"])
            for k, ((chrom, start), logit) in enumerate(zip(rows, rng.normal(0, 2, windows))):
                writer.writerow([chrom, start, start + seq_len, "+-"[k % 2], f"w{k}", cls, "test", k, f"{logit:.5f}", 0])
        for method in METHODS:
            pair = (cls, method)
            bigwigs[pair] = folder / f"{cls}.{method}.bw"
            with BigWigWriter(bigwigs[pair], sizes) as writer:
                for chrom in sizes:
                    starts = np.array([s for c, s in rows if c == chrom], dtype=np.int64)
                    positions = (starts[:, None] + np.arange(seq_len)).ravel()
                    values = rng.normal(0, 0.05, positions.size).astype(np.float32)
                    writer.add(chrom, positions, positions + 1, values)
            seqlets[pair] = folder / f"{cls}.{method}.bed"
            with open(seqlets[pair], "w") as handle:
                for chrom, start in rows:
                    for offset in sorted(rng.integers(0, seq_len - 20, 3)):
                        a = start + int(offset)
                        handle.write(f"{chrom}\t{a}\t{a + 15}\t{cls}.{method}\t500\t+\t{a}\t{a + 15}\t255,0,0\n")
    pairs = [(c, m) for c in CLASSES for m in METHODS]
    return BrowserInputs(pairs=pairs, chrom_sizes=folder / "chrom_sizes.tsv", seq_len=seq_len, windows=tables,
                         bigwigs=bigwigs, seqlets=seqlets, genome=genome, genome_index=folder / "index")


def open_times(page: Path, repeats: int) -> str:
    """Median seconds from navigation to every track drawn, or why it was not measured."""
    chromium = find_browser()
    if chromium is None:
        return "no Chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "no Playwright"
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            for _ in range(repeats + 1):  # the first load warms Chromium's caches: not counted
                tab = browser.new_page(viewport={"width": 1500, "height": 1000})
                tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                          else r.abort())
                start = time.perf_counter()
                tab.goto(page.resolve().as_uri())
                tab.wait_for_selector("body[data-ready='true']", state="attached", timeout=120_000)
                tab.wait_for_function("window.seqlrpBrowser.trackViews.every(v => v.viewports.every(p => !p.loading))",
                                      timeout=120_000)
                times.append(time.perf_counter() - start)
                tab.close()
        finally:
            browser.close()
    return f"{statistics.median(times[1:]):.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page", action="append", default=[], help="a page a run wrote (repeatable)")
    parser.add_argument("--windows", type=int, default=20_000)
    parser.add_argument("--seq-len", type=int, default=500)
    parser.add_argument("--per-list", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    for page in map(Path, args.page):
        rows.append((str(page), "", f"{page.stat().st_size / 1e6:.2f}", "(rule browser)", open_times(page, args.repeats)))
    if args.windows > 0:
        bundle = load()
        with tempfile.TemporaryDirectory(prefix="seqlrp-browser-bench-") as folder:
            folder = Path(folder)
            start = time.perf_counter()
            inputs = synthetic_run(folder, args.windows, args.seq_len)
            print(f"synthetic run of {args.windows:,} windows built in {time.perf_counter() - start:.1f} s", file=sys.stderr)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                shown = write_browser(folder / "browser.html", inputs, bundle, per_list=args.per_list, max_megabytes=50)
                times.append(time.perf_counter() - start)
            rows.append((f"synthetic, {args.windows:,} windows x {args.seq_len} bp, 2 x 2 tracks",
                         f"{shown['regions']} / {shown['bases']:,}", f"{shown['bytes'] / 1e6:.2f}",
                         f"{statistics.median(times):.2f}", open_times(folder / "browser.html", args.repeats)))
    print("| page | regions / bases | MB | build s | opens in s |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

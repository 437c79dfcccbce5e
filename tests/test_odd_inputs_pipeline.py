"""Issue 11's odd inputs through the pipeline: refused at start-up with one line, nothing written
outside results/ (nor anything at all), or run through where the input is merely unusual."""

import re
from pathlib import Path

import pytest
from conftest import copy_run, random_sequence, run_snakemake, write_fasta, write_lines

pytestmark = pytest.mark.workflow


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


def _error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("seqlrp: error:")]


@pytest.fixture
def genome_and_beds(tmp_path):
    """Three 4 kb chromosomes and one BED of 24 regions per chromosome triple (8 on each)."""
    chroms = {f"chr{i}": random_sequence(4000, 10 + i) for i in (1, 2, 3)}
    fasta = write_fasta(tmp_path / "genome.fa", chroms)
    beds = []
    for k in range(3):
        lines = [f"chr{c}\t{200 + 300 * i + 40 * k}\t{240 + 300 * i + 40 * k}" for c in (1, 2, 3) for i in range(8)]
        beds.append(write_lines(tmp_path / f"class{k}.bed", lines))
    return fasta, beds


@pytest.mark.parametrize("names,pattern", [
    (["../../../escaped", "b"], r"class name '\.\./\.\./\.\./escaped' contains a path separator"),
    (["a/b", "b"], r"class name 'a/b' contains a path separator"),
    (["", "b"], r"class name '' is empty"),
    ([".hidden", "b"], r"class name '\.hidden' starts with a dot"),
    (["Positive", "positive"], r"class names 'Positive' and 'positive' differ only by case"),  # keys sorted when dumped
])
def test_unsafe_class_names_are_refused_and_nothing_is_written(tmp_path, genome_and_beds, names, pattern):
    fasta, beds = genome_and_beds
    workdir = tmp_path / "deep" / "er" / "run"
    workdir.mkdir(parents=True)
    before = _files_under(tmp_path)
    config = {"genome": str(fasta), "regions": dict(zip(names, map(str, beds))), "seq_len": 40}
    result = run_snakemake(workdir, config)
    assert result.returncode != 0
    errors = _error_lines(result)
    assert len(errors) == 1 and re.search(r"config\.yaml:\d+: " + pattern, errors[0]), result.stderr[-2000:]
    created = _files_under(tmp_path) - before
    # only what the test itself and Snakemake's bookkeeping put into the working directory
    assert all(path == workdir or workdir in path.parents for path in created), sorted(created)
    assert not (workdir / "results").exists()
    assert not any(path.name.startswith("escaped") for path in _files_under(tmp_path))


def test_unusual_but_safe_names_run_to_the_tracks(tmp_path, genome_and_beds):
    fasta, beds = genome_and_beds
    names = ["CTCF-bound", "class 1", "ünïcode"]
    config = {
        "genome": str(fasta), "regions": dict(zip(names, map(str, beds))), "seq_len": 40,
        "split": {"valid_chroms": ["chr2"], "test_chroms": ["chr3"]},
        "model": {"hparams": {"filters": [8], "kernels": [5], "pools": [1], "dense": []}},
        "train": {"epochs": 2, "batch_size": 16},
        "attribute": {"methods": {"lrp": {"composite": "epsilon-plus"}}},
    }
    targets = [f"results/tracks/{name}.lrp.bw" for name in names]
    result = run_snakemake(tmp_path / "run", config, *targets)
    assert result.returncode == 0, result.stderr[-3000:]
    for target in targets:
        assert (tmp_path / "run" / target).stat().st_size > 0


@pytest.mark.parametrize("override,pattern", [
    ({"genome": "g.fa", "regions": {"bound": "b.bed"}},
     r"config\.yaml:\d+: a classifier needs at least two classes, got 1 \('bound'\)"),
    ({"model": {"hparams": {"filterz": [8]}}},
     r"config\.yaml:\d+: model\.hparams: unknown key\(s\) filterz for arch 'cnn'"),
    ({"model": {"hparams": {"pools": [50, 50]}}, "seq_len": 60},
     r"config\.yaml:\d+: model \(cnn\): seq_len 60 is too short"),
])
def test_config_problems_caught_at_start_up(tmp_path, override, pattern):
    result = run_snakemake(tmp_path / "run", override, "-n")
    assert result.returncode != 0
    errors = _error_lines(result)
    assert len(errors) == 1 and re.search(pattern, errors[0]), result.stderr[-2000:]


def test_schema_error_names_the_one_file_that_holds_the_key(tmp_path):
    workdir = tmp_path / "run"
    (workdir / "config").mkdir(parents=True)
    write_lines(workdir / "config" / "config.yaml", ["seq_len: 100", "seed: 2"])
    result = run_snakemake(workdir, {"seed": 3, "extract": {"padding": "N"}}, "-n")
    errors = _error_lines(result)
    assert len(errors) == 1, result.stderr[-2000:]
    assert re.match(rf"seqlrp: error: {re.escape(str(workdir / 'config.yaml'))}:\d+: extract: Additional properties are not "
                    r"allowed \('padding' was unexpected\)", errors[0]), errors[0]
    assert "config/config.yaml" not in errors[0]
    # the bad key in the default file: that file is named, not the user's
    write_lines(workdir / "config" / "config.yaml", ["seq_len: 100", "split:", "  test_chrom: [chr8]"])
    result = run_snakemake(workdir, {"seed": 3}, "-n")
    errors = _error_lines(result)
    assert len(errors) == 1 and errors[0].startswith("seqlrp: error: config/config.yaml:3: split: Additional properties"), errors


def test_broken_default_config_gives_file_and_line(tmp_path):
    workdir = tmp_path / "run"
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text("seq_len: 100\nextract: {centre: summit\n")
    result = run_snakemake(workdir, None, "-n")
    assert result.returncode != 0
    errors = _error_lines(result)
    assert len(errors) == 1 and re.match(r"seqlrp: error: config/config\.yaml:\d+: not valid YAML", errors[0]), result.stderr[-2000:]


def test_region_past_the_chromosome_end_is_refused_by_the_pipeline(tmp_path, genome_and_beds):
    fasta, beds = genome_and_beds
    far = write_lines(tmp_path / "far.bed", ["chr1\t100\t140", "chr1\t500000\t500200"])
    result = run_snakemake(tmp_path / "run", {"genome": str(fasta), "regions": {"a": str(beds[0]), "b": str(far)}, "seq_len": 40})
    assert result.returncode != 0
    errors = _error_lines(result)
    assert errors and re.search(r"far\.bed:2: region chr1:500000-500200 ends past the end of chr1, which is 4,000 bp long", errors[0])
    data = tmp_path / "run" / "results" / "data"
    assert not data.exists() or not any(data.iterdir())


def test_temporaries_of_a_killed_shard_are_gone_after_the_rerun(tiny_demo_run, tmp_path):
    from conftest import TINY_DEMO

    run = copy_run(tiny_demo_run, tmp_path / "run")
    shard = run / "results" / "attributions" / "positive.lrp" / "shards" / "0"
    shard.mkdir(parents=True, exist_ok=True)
    orphans = [shard / ".relevance.npy.q1w2e3r4.tmp.npy", shard / ".hyp.npy.z9x8c7v6.tmp.npy"]
    for orphan in orphans:
        orphan.write_bytes(b"PK partial")
    result = run_snakemake(run, TINY_DEMO, "-f", "results/attributions/positive.lrp/shards/0/relevance.npy")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not any(orphan.exists() for orphan in orphans)
    assert (shard / "relevance.npy").exists()

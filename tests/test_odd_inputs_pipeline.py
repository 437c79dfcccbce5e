"""Issue 11's odd inputs through the pipeline: refused at start-up with one line, nothing written
outside results/ (nor anything at all), or run through where the input is merely unusual."""

import re

import pytest
from conftest import random_sequence, run_job, run_snakemake, write_fasta, write_lines


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


# unsafe class names and the other start-up refusals are the run plan's (tests/test_plan.py); the
# dry-run matrix in tests/test_workflow.py shows one of them through Snakemake


@pytest.mark.workflow
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


def test_schema_error_names_the_one_file_that_holds_the_key(tmp_path, monkeypatch):
    """The tracked config/config.yaml and the user's file, merged in Snakemake's order (the default
    first): a bad key is blamed on the file that holds it, with its line."""
    from seqlrp.errors import SeqlrpError
    from seqlrp.formats.config_file import load_config

    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    write_lines(tmp_path / "config" / "config.yaml", ["seq_len: 100", "seed: 2"])
    user = write_lines(tmp_path / "config.yaml", ["seed: 3", "extract:", "  padding: N"])
    with pytest.raises(SeqlrpError) as caught:
        load_config(["config/config.yaml", user])
    assert re.fullmatch(rf"{re.escape(str(user))}:3: extract: Additional properties are not allowed \('padding' was "
                        r"unexpected\)", str(caught.value)), caught.value
    # the bad key in the default file: that file is named, not the user's
    write_lines(tmp_path / "config" / "config.yaml", ["seq_len: 100", "split:", "  test_chrom: [chr8]"])
    write_lines(tmp_path / "config.yaml", ["seed: 3"])
    with pytest.raises(SeqlrpError) as caught:
        load_config(["config/config.yaml", user])
    assert str(caught.value).startswith("config/config.yaml:3: split: Additional properties"), caught.value


@pytest.mark.workflow
def test_broken_default_config_gives_file_and_line(tmp_path):
    workdir = tmp_path / "run"
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text("seq_len: 100\nextract: {centre: summit\n")
    result = run_snakemake(workdir, None, "-n")
    assert result.returncode != 0
    errors = _error_lines(result)
    assert len(errors) == 1 and re.match(r"seqlrp: error: config/config\.yaml:\d+: not valid YAML", errors[0]), result.stderr[-2000:]


def test_temporaries_of_a_killed_job_are_removed_before_it_runs_again(tmp_path):
    """run_stage removes what a killed earlier run of the job left beside its outputs, and says so."""
    shard = tmp_path / "results" / "attributions" / "positive.lrp" / "shards" / "0"
    shard.mkdir(parents=True)
    orphans = [shard / ".relevance.npy.q1w2e3r4.tmp.npy", shard / ".hyp.npy.z9x8c7v6.tmp.npy"]
    keep = shard / "notes.txt"
    for path in (*orphans, keep):
        path.write_bytes(b"PK partial")
    seen = []
    status, errors = run_job(lambda smk: seen.append([p.exists() for p in orphans]),
                             output={"relevance": shard / "relevance.npy", "hyp": shard / "hyp.npy"},
                             log=tmp_path / "job.log")
    assert status == 0 and not errors and seen == [[False, False]] and keep.exists()
    assert "removed 2 temporary file(s) left by an interrupted earlier run" in (tmp_path / "job.log").read_text()

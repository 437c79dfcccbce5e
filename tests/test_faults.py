"""Faults: a full disk, an unwritable output directory and a corrupted intermediate file.

Each gives one clear line naming the file and a non-zero exit, and leaves nothing half-written
behind as if it were complete. The full disk is a real one: a small tmpfs mounted over an output
directory (skipped where mounting is not permitted); the unwritable directory is real too (the
pipeline runs as an unprivileged user when the tests run as root, since root ignores modes).
"""

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DEMO, copy_run, run_snakemake

from seqlrp.errors import InputError, OutputError
from seqlrp.formats.arrays import ChunkedArrayWriter, open_npz

TRACK_OUTPUTS = ("positive.lrp.bw", "positive.lrp.bedGraph.gz", "positive.lrp.bedGraph.gz.tbi")


@contextlib.contextmanager
def full_disk(directory: Path, size: str = "64k"):
    """Mount a ``size`` tmpfs on ``directory`` (skip the test where mounting is not allowed)."""
    directory.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", str(directory)], check=True)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("seqlrp: error:")]


def test_full_disk_raises_one_line_and_leaves_no_file(tmp_path):
    with full_disk(tmp_path / "small") as small:
        target = small / "attr.npz"
        with pytest.raises(OutputError) as caught:
            with ChunkedArrayWriter(target, (64, 4, 1000)) as writer:
                for _ in range(64):
                    writer.write(np.ones((1, 4, 1000), dtype=np.float32))
        assert str(caught.value) == f"{target}: cannot write: no space left on the device; free space and rerun (nothing was written)"
        assert list(small.iterdir()) == []  # neither the output nor its temporary file


def test_truncated_array_names_the_file(tmp_path):
    path = tmp_path / "attr.npz"
    with ChunkedArrayWriter(path, (8, 4, 50)) as writer:
        writer.write(np.ones((8, 4, 50), dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputError, match=rf"^{path}: not an npz .* truncated"):
        open_npz(path)


@pytest.mark.workflow
def test_pipeline_on_a_full_disk(tiny_demo_run, tmp_path):
    run = copy_run(tiny_demo_run, tmp_path / "run")
    tracks = run / "results" / "tracks"
    shutil.rmtree(tracks)
    with full_disk(tracks, size="4k"):
        result = run_snakemake(run, TINY_DEMO, "results/tracks/positive.lrp.bw")
        left = sorted(p.name for p in tracks.iterdir())
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and "cannot write: no space left on the device" in lines[0], result.stderr[-2000:]
    assert "results/tracks/positive.lrp." in lines[0]
    assert not set(TRACK_OUTPUTS) & set(left) and not [name for name in left if ".tmp" in name]


@pytest.mark.workflow
def test_pipeline_with_an_unwritable_output_directory(tiny_demo_run, tmp_path):
    run = copy_run(tiny_demo_run, tmp_path / "run")
    tracks = run / "results" / "tracks"
    for name in TRACK_OUTPUTS:
        (tracks / name).unlink()
    without_override: list[str] = []
    if os.geteuid() == 0:
        # root ignores file modes; in a new user namespace it keeps its files but loses that override
        without_override = ["unshare", "--user"]
        if shutil.which("unshare") is None or subprocess.run([*without_override, "true"]).returncode != 0:
            pytest.skip("running as root and cannot drop the permission override (unshare --user)")
    tracks.chmod(0o555)
    try:
        result = run_snakemake(run, TINY_DEMO, "results/tracks/positive.lrp.bw", prefix=without_override)
    finally:
        tracks.chmod(0o755)
    lines = error_lines(result.stderr)
    assert result.returncode != 0
    assert len(lines) == 1 and "results/tracks/positive.lrp." in lines[0] and "permission denied" in lines[0], \
        result.stderr[-2000:]
    assert not set(TRACK_OUTPUTS) & {p.name for p in tracks.iterdir()}


@pytest.mark.workflow
def test_pipeline_with_a_corrupted_intermediate(tiny_demo_run, tmp_path):
    run = copy_run(tiny_demo_run, tmp_path / "run")
    attr = run / "results" / "attributions" / "positive.lrp" / "shards" / "0" / "relevance.npy"
    attr.write_bytes(attr.read_bytes()[: attr.stat().st_size // 2])  # a disk that filled up, say
    result = run_snakemake(run, TINY_DEMO, "results/tracks/positive.lrp.bw")
    assert result.returncode != 0
    lines = error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(f"seqlrp: error: {attr.relative_to(run)}: not a readable .npy array ("), \
        result.stderr[-2000:]
    assert lines[0].endswith("the file is truncated or corrupted: delete it and rerun")
    # the store's join checks every shard before anything downstream runs: the old track is untouched
    track = "results/tracks/positive.lrp.bw"
    assert (run / track).read_bytes() == (tiny_demo_run / track).read_bytes()
    assert "rule tracks:" not in result.stdout + result.stderr

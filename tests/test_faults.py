"""Faults: a full disk, an unwritable output directory and a corrupted intermediate file.

Each gives one clear line naming the file and a non-zero exit, and leaves nothing half-written
behind as if it were complete. The full disk is injected (:func:`full_disk`): files opened for
writing in one directory share a few kilobytes, after which every write fails with ENOSPC as on a
full file system, so the tests run anywhere, without mounting one. The unwritable directory is
real (the pipeline runs as an unprivileged user when the tests run as root, since root ignores
modes).
"""

import builtins
import errno
import io
import logging
import os
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_DEMO, copy_run, run_snakemake, store_from_arrays

from seqlrp.errors import InputError, OutputError
from seqlrp.formats.arrays import ChunkedArrayWriter, open_npz
from seqlrp.stages.runner import run_stage
from seqlrp.stages.tracks import build_tracks

TRACK_OUTPUTS = ("positive.lrp.bw", "positive.lrp.bedGraph.gz", "positive.lrp.bedGraph.gz.tbi")
NO_SPACE = "cannot write: no space left on the device; free space and rerun (nothing was written)"


class _FileOnFullDisk:
    """A file opened for writing on a disk with ``free[0]`` bytes left: a write that does not fit
    raises ``OSError(ENOSPC)`` (without a file name, as ``write(2)`` reports it); the rest is the file's."""

    def __init__(self, handle, free: list[int]):
        self._handle, self._free = handle, free

    def write(self, data):
        size = len(data.encode()) if isinstance(data, str) else memoryview(data).nbytes
        if size > self._free[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._free[0] -= size
        return self._handle.write(data)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._handle, name)

    def __iter__(self):
        return iter(self._handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()


@pytest.fixture
def full_disk(monkeypatch):
    """``full_disk(directory, free=4096)``: from now on, files opened for writing (``open``,
    ``io.open``, ``Path.open``) under ``directory`` share ``free`` bytes; returns ``directory``."""
    real_open = builtins.open

    def fill(directory: Path, free: int = 4096) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        root, left = directory.resolve(), [free]

        def open_on_full_disk(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") \
                    and Path(os.fsdecode(file)).resolve().is_relative_to(root):
                return _FileOnFullDisk(handle, left)
            return handle

        monkeypatch.setattr(builtins, "open", open_on_full_disk)
        monkeypatch.setattr(io, "open", open_on_full_disk)  # zipfile and pathlib open through io
        return directory

    return fill


@pytest.fixture
def root_logging():
    """Put the root logger back as it was: :func:`run_stage` sets up its own handlers."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in saved[0]:
            handler.close()
    root.handlers[:], root.level = saved[0], saved[1]


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("seqlrp: error:")]


def test_the_injected_full_disk_fails_writes_there_only(tmp_path, full_disk):
    small = full_disk(tmp_path / "small", free=10)
    (small / "fits.txt").write_text("0123456789")  # the 10 bytes left
    with pytest.raises(OSError) as caught, open(small / "more.bin", "wb") as handle:
        handle.write(b"x")
    assert caught.value.errno == errno.ENOSPC
    (tmp_path / "elsewhere.txt").write_text("x" * 1000)  # other directories have room
    assert (small / "fits.txt").read_text() == "0123456789"


def test_full_disk_raises_one_line_and_leaves_no_file(tmp_path, full_disk):
    small = full_disk(tmp_path / "small", free=64 * 1024)
    target = small / "attr.npz"
    with pytest.raises(OutputError) as caught:
        with ChunkedArrayWriter(target, (64, 4, 1000)) as writer:
            for _ in range(64):
                writer.write(np.ones((1, 4, 1000), dtype=np.float32))
    assert str(caught.value) == f"{target}: {NO_SPACE}"
    assert list(small.iterdir()) == []  # neither the output nor its temporary file


def test_truncated_array_names_the_file(tmp_path):
    path = tmp_path / "attr.npz"
    with ChunkedArrayWriter(path, (8, 4, 50)) as writer:
        writer.write(np.ones((8, 4, 50), dtype=np.float32))
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputError, match=rf"^{path}: not an npz .* truncated"):
        open_npz(path)


def test_stage_on_a_full_disk_exits_with_one_line_and_leaves_nothing(tmp_path, full_disk, root_logging, capsys):
    # the tracks stage as scripts/tracks.py runs it, through run_stage, on a disk with 4 kB left
    rng = np.random.default_rng(0)
    n, length = 40, 200
    onehot = np.zeros((n, 4, length), dtype=np.uint8)
    np.put_along_axis(onehot, rng.integers(0, 4, size=(n, 1, length)), 1, axis=1)
    relevance = (onehot * rng.normal(size=onehot.shape)).astype(np.float32)
    table = "chrom\tstart\tend\tstrand\tname\tclass\tsplit\trow\tlogit\trelevance_sum\n" + "".join(
        f"chr1\t{250 * i}\t{250 * i + length}\t+\tw{i}\tpositive\ttest\t{i}\t1\t0\n" for i in range(n))
    (tmp_path / "results" / "data").mkdir(parents=True)
    store = store_from_arrays(tmp_path / "results" / "attributions" / "positive.lrp", onehot, relevance, relevance,
                              table, "positive", "lrp", onehot_path=tmp_path / "results" / "data" / "onehot.npy")
    (tmp_path / "results" / "data" / "chrom_sizes.tsv").write_text("chr1\t20000\n")
    tracks = full_disk(tmp_path / "results" / "tracks", free=4096)
    outputs = {"bigwig": str(tracks / TRACK_OUTPUTS[0]), "bedgraph": str(tracks / TRACK_OUTPUTS[1])}
    smk = types.SimpleNamespace(output=list(outputs.values()), log=[str(tmp_path / "tracks.log")],
                                resources=types.SimpleNamespace())

    def main(_):
        build_tracks(str(store), str(tmp_path / "results" / "data" / "onehot.npy"),
                     str(tmp_path / "results" / "data" / "chrom_sizes.tsv"), outputs, threads=2)

    with pytest.raises(SystemExit) as exited:
        run_stage(smk, main)
    assert exited.value.code == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and lines[0].endswith(NO_SPACE), lines
    named = lines[0].removeprefix("seqlrp: error: ").split(": ")[0]
    assert named in {str(tracks / name) for name in TRACK_OUTPUTS}
    assert (tmp_path / "tracks.log").read_text().splitlines()[-1] == lines[0]
    assert list(tracks.iterdir()) == []  # no track, no index, no temporary file


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

"""The glue every rule's script runs through (seqlrp.stages.runner.run_stage), in-process."""

import logging

from conftest import run_job

from seqlrp.errors import InputError
from seqlrp.models.device import GPU_FALLBACK, warn_gpu_fallback


def test_gpu_fallback_warns_once_only_when_a_gpu_was_asked_for_and_none_is_seen(caplog):
    with caplog.at_level(logging.WARNING):
        assert not warn_gpu_fallback(0, cuda_available=False)
        assert not warn_gpu_fallback(1, cuda_available=True)
        assert warn_gpu_fallback(2, cuda_available=False)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(lines) == 1 and lines[0].startswith(GPU_FALLBACK) and "asked for 2 GPU(s)" in lines[0]
    assert "install a CUDA build of torch" in lines[0]


def test_a_gpu_job_on_a_cpu_only_torch_says_so_in_its_log(tmp_path):
    import torch

    status, errors = run_job(lambda smk: None, output={"out": tmp_path / "out.txt"}, log=tmp_path / "job.log",
                             resources={"gpu": 1})
    log = (tmp_path / "job.log").read_text()
    assert status == 0 and not errors
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    if torch.cuda.is_available():
        assert not warnings
    else:
        assert len(warnings) == 1 and GPU_FALLBACK in warnings[0]
    run_job(lambda smk: None, output={"out": tmp_path / "out.txt"}, log=tmp_path / "cpu.log")
    assert GPU_FALLBACK not in (tmp_path / "cpu.log").read_text()


def test_a_seqlrp_error_ends_the_job_with_one_line_and_status_1(tmp_path):
    def fail(smk):
        raise InputError("peaks.bed", "start (5) must be smaller than end (4)", 12)

    status, errors = run_job(fail, output={"out": tmp_path / "out.txt"}, log=tmp_path / "job.log")
    assert status == 1 and errors == ["seqlrp: error: peaks.bed:12: start (5) must be smaller than end (4)"]

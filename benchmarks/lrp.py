"""LRP speed and memory against gradient x input, the floor of any one-backward-pass method.

Models (``--model``):

* ``basset`` (default): Basset-size CNN (conv 300x19, 200x11, 200x7, each with BatchNorm, ReLU
  and max-pool 3/4/4, dense 1000 with BatchNorm, then the output layer), 64 sequences x 1000 bp,
  explaining logit 3;
* ``convformer``: seqlrp's conv + transformer (``build("convformer", seq_len=1000)``, its default
  sizes, random weights), 32 sequences x 1000 bp, explaining logit 0;
* ``bpnet``: BPNet-size residual network (:class:`models.BPNetSize`, bpnet-lite's BPNet written
  out: conv 64x21, 8 dilated residual layers ``X = X + relu(conv(X))`` added in ``forward``,
  kernel 3, dilation 2..256, a profile head conv 2x75 trimmed to 1000 bp and a counts head, mean
  then dense 64 -> 1; random weights), 32 sequences x 2114 bp, explaining the counts head
  (``output=1``, target 0): gradient x input of the counts is the baseline.

2 CPU threads. gradient x input uses a frozen copy (requires_grad False on every parameter) and
autograd.

Timing: every method runs once to warm up; then, ``--repeats`` times, gradient x input and the
method run back to back and their time ratio is recorded; the table shows the median ratio
(and the ratio of the fastest runs, less sensitive to other processes on the machine), for
wall-clock and process CPU time. Peak memory: each method runs in a fresh subprocess that
reports the peak RSS increase of a warm call (Linux: the peak is reset through
/proc/self/clear_refs after a first call, and memory the first call freed is handed back to the
system with glibc's ``malloc_trim`` first: without it the RSS before the call, and so the
increase, depended on what the allocator kept from the first call, by up to ~0.9 GB on bpnet).
On a CUDA device, also sequences/s in float32 and bfloat16. With zennit installed,
``--zennit`` adds its composites to the table (on ``bpnet`` Zennit runs, but its relevance is
wrong: the functional residual adds hand both branches the full relevance; timing only).

    python benchmarks/lrp.py [--model basset|bpnet] [--repeats 7] [--threads 2]
                             [--batch 64|32] [--length 1000|2114] [--no-memory] [--zennit]
                             [--cuda-batch 512|128]      (defaults: basset|bpnet)
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import json
import statistics
import subprocess
import sys
import time

import torch
from torch import nn

from seqlrp.lrp import Prune, relevance

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from models import BPNET_LENGTH, bpnet_size  # noqa: E402  (benchmarks/models.py)

COMPOSITES = ["epsilon", "epsilon-plus", "epsilon-gamma", "alpha2beta1"]
GOALS = {"epsilon": 1.2, "epsilon-plus": 1.5, "epsilon-gamma": 1.6, "alpha2beta1": 2.2, "epsilon-plus PLRP-lambda": 1.8}


def basset(length: int, n_classes: int = 164) -> nn.Sequential:
    def bn(c):
        layer = nn.BatchNorm1d(c)
        with torch.no_grad():
            layer.running_mean.normal_(0, 0.2)
            layer.running_var.uniform_(0.5, 2.0)
        return layer

    flat = 200 * (length // 3 // 4 // 4)
    return nn.Sequential(
        nn.Conv1d(4, 300, 19, padding=9), bn(300), nn.ReLU(), nn.MaxPool1d(3),
        nn.Conv1d(300, 200, 11, padding=5), bn(200), nn.ReLU(), nn.MaxPool1d(4),
        nn.Conv1d(200, 200, 7, padding=3), bn(200), nn.ReLU(), nn.MaxPool1d(4),
        nn.Flatten(), nn.Linear(flat, 1000), bn(1000), nn.ReLU(), nn.Dropout(0.3), nn.Linear(1000, n_classes),
    ).eval()


# model name -> default batch and length, the explained target and output (index into a tuple output)
MODELS = {
    "basset": {"batch": 64, "length": 1000, "target": 3, "output": None},
    "bpnet": {"batch": 32, "length": BPNET_LENGTH, "target": 0, "output": 1},  # counts head (N, 1)
    "convformer": {"batch": 32, "length": 1000, "target": 0, "output": None},
}


def setup(batch: int, length: int, device: str = "cpu", dtype=torch.float32, model: str = "basset"):
    torch.manual_seed(0)
    if model == "convformer":  # seqlrp's conv + transformer (its defaults), random weights
        from seqlrp.models import build

        net = build("convformer", seq_len=length, n_classes=2).eval()
    else:
        net = basset(length) if model == "basset" else bpnet_size(seed=0)
    net = net.to(device=device, dtype=dtype)
    x = nn.functional.one_hot(torch.randint(0, 4, (batch, length)), 4).transpose(1, 2).to(device=device, dtype=dtype)
    return net, x.contiguous()


def methods(model: nn.Module, x: torch.Tensor, target: int = 3, with_zennit: bool = False, output: int | None = None) -> dict:
    frozen = copy.deepcopy(model)
    for p in frozen.parameters():
        p.requires_grad_(False)

    def grad_x_input():
        xg = x.clone().requires_grad_(True)
        out = frozen(xg) if output is None else frozen(xg)[output]
        (grad,) = torch.autograd.grad(out[:, target].sum(), xg)
        return grad * xg

    table = {"gradient x input": grad_x_input}
    for name in COMPOSITES:
        table[name] = lambda name=name: relevance(model, x, target, composite=name, output=output)
    table["epsilon-plus PLRP-lambda"] = lambda: relevance(model, x, target, prune=Prune(0.25), output=output)
    table["epsilon-plus PLRP-M"] = lambda: relevance(model, x, target, prune=Prune(0.25, mode="mask"), output=output)
    if with_zennit:
        table.update(zennit_methods(model if output is None else Selected(model, output), x, target))
    return table


def model_methods(model: str, batch: int, length: int, with_zennit: bool = False, device: str = "cpu", dtype=torch.float32) -> dict:
    """:func:`methods` on model ``model`` (a key of :data:`MODELS`) and its random batch."""
    net, x = setup(batch, length, device, dtype, model=model)
    spec = MODELS[model]
    return methods(net, x, spec["target"], with_zennit=with_zennit, output=spec["output"])


class Selected(nn.Module):
    """Output ``index`` of a model that returns a tuple: the one (N, K) output Zennit's call explains."""

    def __init__(self, model: nn.Module, index: int):
        super().__init__()
        self.model, self.index = model, index

    def forward(self, x):
        return self.model(x)[self.index]


def zennit_methods(model: nn.Module, x: torch.Tensor, target: int) -> dict:
    try:
        sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "tests"))
        from test_lrp_zennit import zennit_relevance  # the reference construction of the tests
    except BaseException as err:  # pytest.skip raises a BaseException when zennit is missing
        print(f"(zennit not available: {err})")
        return {}
    return {f"zennit {name}": (lambda name=name: zennit_relevance(model, x, target, name)) for name in COMPOSITES}


def time_ratios(table: dict, repeats: int) -> dict:
    for fn in table.values():  # warm-up
        fn()
    stats = {name: {"wall": [], "cpu": [], "wall_base": [], "cpu_base": []} for name in table if name != "gradient x input"}
    base = table["gradient x input"]
    for _ in range(repeats):
        for name, fn in table.items():
            if name == "gradient x input":
                continue
            for key, f in (("base", base), ("", fn)):
                w, c = time.perf_counter(), time.process_time()
                f()
                suffix = "_base" if key else ""
                stats[name]["wall" + suffix].append(time.perf_counter() - w)
                stats[name]["cpu" + suffix].append(time.process_time() - c)
    return stats


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as fh:
        return int(fh.read().split(field + ":")[1].split()[0]) / 1024


def release_freed_memory() -> None:
    """Hand memory that glibc keeps after ``free`` back to the system (``malloc_trim``), so that the
    RSS before a call does not depend on what an earlier call left in the allocator's free lists."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_rss_delta(name: str, batch: int, length: int, threads: int, model: str = "basset") -> float:
    """MiB of peak RSS above the RSS before one warm call of ``name``, in a fresh process
    (the peak is reset after a first call, so one-time set-up such as oneDNN's is excluded; freed
    memory is handed back first, see :func:`release_freed_memory`)."""
    code = (
        "import json, sys, torch; sys.path.insert(0, %r); import lrp as b; "
        "torch.set_num_threads(%d); fn = b.model_methods(%r, %d, %d)[%r]; fn(); b.release_freed_memory(); "
        "before = b._status_mib('VmRSS'); open('/proc/self/clear_refs', 'w').write('5'); fn(); "
        "print(json.dumps(b._status_mib('VmHWM') - before))"
    ) % (str(__import__("pathlib").Path(__file__).resolve().parent), threads, model, batch, length, name)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cuda_throughput(batch: int, length: int, repeats: int = 10, model: str = "basset") -> None:
    print(f"\nCUDA ({torch.cuda.get_device_name()}), {model}, {batch} x {length} bp per call: sequences/s")
    for dtype in (torch.float32, torch.bfloat16):
        for name, fn in model_methods(model, batch, length, device="cuda", dtype=dtype).items():
            fn()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            torch.cuda.synchronize()
            rate = batch * repeats / (time.perf_counter() - start)
            print(f"  {str(dtype).replace('torch.', ''):9s} {name:28s} {rate:12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", choices=sorted(MODELS), default="basset")
    parser.add_argument("--batch", type=int, help="sequences per call (basset 64, bpnet 32)")
    parser.add_argument("--length", type=int, help="bp (basset 1000, bpnet 2114)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--zennit", action="store_true", help="also time Zennit's composites")
    parser.add_argument("--cuda-batch", type=int, help="sequences per call on CUDA (basset 512, bpnet 128)")
    args = parser.parse_args()
    spec = MODELS[args.model]
    batch = args.batch or spec["batch"]
    length = args.length or spec["length"]
    torch.set_num_threads(args.threads)
    table = model_methods(args.model, batch, length, with_zennit=args.zennit)
    stats = time_ratios(table, args.repeats)
    print(f"torch {torch.__version__}, {args.model}, {args.threads} threads, {batch} x {length} bp, "
          f"{args.repeats} repeats; gradient x input median {statistics.median(stats['epsilon']['wall_base']):.3f} s wall")
    print(f"{'method':28s} {'wall x':>7s} {'(best)':>7s} {'cpu x':>7s} {'(best)':>7s} {'goal':>6s} {'peak MiB':>9s} {'mem x':>6s}")
    memory = {}
    if not args.no_memory:
        for name in table:
            if not name.startswith("zennit"):
                memory[name] = peak_rss_delta(name, batch, length, args.threads, args.model)
    base_mem = memory.get("gradient x input")
    if base_mem is not None:
        print(f"{'gradient x input':28s} {1:7.2f} {1:7.2f} {1:7.2f} {1:7.2f} {'':>6s} {base_mem:9.0f} {1:6.2f}")
    for name, s in stats.items():
        ratios = {k: statistics.median(a / b for a, b in zip(s[k], s[k + "_base"])) for k in ("wall", "cpu")}
        best = {k: min(s[k]) / min(s[k + "_base"]) for k in ("wall", "cpu")}
        goal = f"{GOALS[name]:.1f}" if name in GOALS else ""
        mem = f"{memory[name]:9.0f} {memory[name] / base_mem:6.2f}" if name in memory and base_mem else ""
        print(f"{name:28s} {ratios['wall']:7.2f} {best['wall']:7.2f} {ratios['cpu']:7.2f} {best['cpu']:7.2f} {goal:>6s} {mem}")
    if torch.cuda.is_available():
        cuda_throughput(args.cuda_batch or (512 if args.model == "basset" else 128), length, model=args.model)


if __name__ == "__main__":
    main()

"""GPU readiness: the CUDA checks, then sequences/s of LRP (epsilon-plus) and PLRP at 1 kb, fp32 and bf16.

Run on a machine with a CUDA GPU (``python benchmarks/gpu.py``; the ``device`` tool for a lent one):

1. **Checks** (each prints ``ok`` or what failed; the exit status is 1 when one fails): CUDA is
   there; a seqlrp CNN and a conv-transformer (``build("cnn"|"convformer", seq_len=--length)``,
   seeded) give the same LRP and PLRP-lambda relevance on the GPU as on the CPU (fp32,
   ``rtol 1e-3`` relative to the largest value: GPU convolutions sum in another order); in bf16
   (model and input cast) the relevance correlates with fp32's above 0.95, and its sum stays
   within 10 % of fp32's (bf16 keeps 8 bits of mantissa: through attention, sums drift by a few %).
2. **Throughput**: sequences per second of gradient x input, LRP (epsilon-plus) and PLRP-lambda
   (p = 0.25) for each model, fp32 and bf16, ``--batch`` sequences of ``--length`` bp per call,
   median of ``--repeats`` timed calls after a warm-up (``torch.cuda.synchronize`` around each).

``--device cpu`` runs the same on the CPU (the checks then compare the CPU with itself), to try
the script where no GPU is lent; ``--out FILE`` also writes the results as JSON.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time

import torch

from seqlrp.attribution.baselines import gradient_x_input
from seqlrp.lrp import Prune, relevance
from seqlrp.models import build

ARCHS = ("cnn", "convformer")


def one_hot(n: int, length: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=generator)
    return torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()


def methods():
    return {
        "gradient x input": lambda model, x: gradient_x_input(model, x, 0),
        "LRP epsilon-plus": lambda model, x: relevance(model, x, 0),
        "PLRP-lambda p=0.25": lambda model, x: relevance(model, x, 0, prune=Prune(0.25)),
    }


def timed(fn, model, x, repeats: int, device: torch.device) -> float:
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn(model, x)  # warm-up: capture, planning, kernels
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(model, x)
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def checks(device: torch.device, length: int) -> list[tuple[str, bool, str]]:
    if device.type == "cuda":
        results = [("CUDA device", True, torch.cuda.get_device_name(device))]
    else:
        results = [("CUDA device", True, "not used (--device cpu: the GPU is compared with the CPU itself)")]
    x = one_hot(8, length, seed=1)
    for arch in ARCHS:
        torch.manual_seed(0)
        cpu_model = build(arch, seq_len=length, n_classes=2).eval()
        model = build(arch, seq_len=length, n_classes=2).eval()
        model.load_state_dict(cpu_model.state_dict())
        model = model.to(device)
        xd = x.to(device)
        for name, fn in methods().items():
            if name == "gradient x input":
                continue
            expected = fn(cpu_model, x)
            try:
                got = fn(model, xd).float().cpu()
                error = ((got - expected).abs().max() / expected.abs().max()).item()
                results.append((f"{arch} {name} fp32 on {device.type} = CPU", error < 1e-3, f"max error {error:.1e}"))
            except Exception as err:  # report, go on with the other checks
                results.append((f"{arch} {name} fp32 on {device.type}", False, f"{type(err).__name__}: {err}"))
            try:
                low = fn(copy.deepcopy(model).to(torch.bfloat16), xd.to(torch.bfloat16)).float().cpu()
                corr = torch.corrcoef(torch.stack([low.flatten(), expected.flatten()]))[0, 1].item()
                drift = abs(low.sum().item() - expected.sum().item()) / max(abs(expected.sum().item()), 1e-12)
                results.append((f"{arch} {name} bf16", corr > 0.95 and drift < 0.1,
                                f"correlation {corr:.4f}, sum off by {100 * drift:.1f} %"))
            except Exception as err:
                results.append((f"{arch} {name} bf16", False, f"{type(err).__name__}: {err}"))
    return results


def throughput(device: torch.device, length: int, batch: int, repeats: int) -> list[dict]:
    rows = []
    x = one_hot(batch, length, seed=2).to(device)
    for arch in ARCHS:
        torch.manual_seed(0)
        model = build(arch, seq_len=length, n_classes=2).eval().to(device)
        for dtype in (torch.float32, torch.bfloat16):
            model = model.to(dtype)  # fp32 first: the bf16 copy's rounding does not reach it
            for name, fn in methods().items():
                try:
                    seconds = timed(fn, model, x.to(dtype), repeats, device)
                    rows.append({"model": arch, "dtype": str(dtype).removeprefix("torch."), "method": name,
                                 "seconds": seconds, "sequences_per_s": batch / seconds})
                except Exception as err:
                    rows.append({"model": arch, "dtype": str(dtype).removeprefix("torch."), "method": name,
                                 "error": f"{type(err).__name__}: {err}"})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", help="also write the results here as JSON")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with a GPU, or --device cpu to try the script", file=sys.stderr)
        return 1
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    found = checks(device, args.length)
    for name, ok, detail in found:
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
    rows = throughput(device, args.length, args.batch, args.repeats)
    print(f"\n| model | dtype | method | sequences/s ({args.batch} x {args.length} bp per call) |")
    print("|---|---|---|---|")
    for row in rows:
        value = f"{row['sequences_per_s']:,.0f}" if "sequences_per_s" in row else row["error"]
        print(f"| {row['model']} | {row['dtype']} | {row['method']} | {value} |")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in found], "throughput": rows,
                       "device": str(device), "torch": torch.__version__}, handle, indent=1)
    return 0 if all(ok for _, ok, _ in found) else 1


if __name__ == "__main__":
    sys.exit(main())

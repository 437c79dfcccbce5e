"""Inference throughput of a Basset-size CNN on one-hot DNA (sequences per second).

Model: conv 300x19, 200x11, 200x7, each with BatchNorm, ReLU and max-pool 3/4/4, then a dense
layer of 1000 units (seqlrp ``cnn`` with a flatten head), at 1 kb. Measured end to end through
``seqlrp.models.inference.predict_logits`` (uint8 host array -> device -> logits on the host), as the
predict stage runs it: on the CPU with ``--threads`` threads, and, when CUDA is available, at
``--gpu-batch`` in fp32 and in bf16 autocast.

    python benchmarks/inference.py [--seq-len 1000] [--threads 2] [--seconds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from seqlrp.models import build
from seqlrp.models.inference import predict_logits

BASSET = {
    "filters": [300, 200, 200],
    "kernels": [19, 11, 7],
    "pools": [3, 4, 4],
    "first_activation": "relu",
    "head": "flatten",
    "dense": [1000],
    "dropout": 0.3,
}


def throughput(model, onehot, *, batch_size, device, mixed_precision, seconds) -> tuple[float, int]:
    """Sequences per second over repeated passes for at least ``seconds`` (after one warm-up batch)."""
    predict_logits(model, onehot[:batch_size], batch_size=batch_size, device=device, mixed_precision=mixed_precision)
    done, started = 0, time.perf_counter()
    while True:
        predict_logits(model, onehot, batch_size=batch_size, device=device, mixed_precision=mixed_precision)
        done += len(onehot)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return done / elapsed, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=1000)
    parser.add_argument("--n-classes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--cpu-batch", type=int, default=64)
    parser.add_argument("--gpu-batch", type=int, default=256)
    parser.add_argument("--seconds", type=float, default=3.0, help="least time measured per row")
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = build("cnn", seq_len=args.seq_len, n_classes=args.n_classes, **BASSET).eval()
    n_params = sum(p.numel() for p in model.parameters())
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 4, size=(4 * args.gpu_batch, args.seq_len))
    onehot = (codes[:, None, :] == np.arange(4)[None, :, None]).astype(np.uint8)  # (N, 4, L)

    rows = []
    rate, n = throughput(model, onehot[: 2 * args.cpu_batch], batch_size=args.cpu_batch, device="cpu",
                         mixed_precision=False, seconds=args.seconds)
    rows.append((f"cpu ({args.threads} threads)", "fp32", args.cpu_batch, rate, n))
    if torch.cuda.is_available():
        device = torch.device("cuda")
        model.to(device)
        for precision in ("fp32", "bf16"):
            rate, n = throughput(model, onehot, batch_size=args.gpu_batch, device=device,
                                 mixed_precision=precision == "bf16", seconds=args.seconds)
            rows.append((torch.cuda.get_device_name(device), precision, args.gpu_batch, rate, n))
    else:
        rows.append(("cuda", "-", args.gpu_batch, float("nan"), 0))

    print(f"Basset-size CNN, {n_params / 1e6:.1f} M parameters, {args.seq_len} bp, torch {torch.__version__}")
    print(f"{'device':<28} {'precision':<9} {'batch':>5} {'seq/s':>10} {'seqs timed':>10}")
    for device_name, precision, batch, rate, n in rows:
        shown, timed = ("no CUDA", "-") if n == 0 else (f"{rate:.1f}", str(n))
        print(f"{device_name:<28} {precision:<9} {batch:>5} {shown:>10} {timed:>10}")


if __name__ == "__main__":
    main()

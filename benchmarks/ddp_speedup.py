"""python -m benchmarks.ddp_speedup: how much faster does a teacher train in several processes?

Runs the same teacher training (full-batch, or sampled with ``--fanouts``) (the protocol's teacher of
``--dataset``: SAGE 3x256 +
BatchNorm on the arxiv-shaped graph) three ways on this machine's cores and prints the time per
epoch and the speed-up over one process:

- one process, one thread;
- one process, ``--threads`` threads (torch's intra-op parallelism);
- ``--nproc`` processes under ``torch.distributed.run`` (gloo), ``--threads / --nproc`` threads
  each, in DistributedDataParallel (``gkd.train.distributed``: each rank takes an equal share of the
  labelled nodes; the forward pass stays full-graph on every rank, so only the loss and the
  backward pass through the last layer's rows are split).

Each way runs in its own subprocess with ``OMP_NUM_THREADS`` set; the validation pass after each
epoch (full graph, on every rank) is timed apart. Results: ``<out>/ddp_speedup.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from gkd.io import atomic_write_text

from . import pages

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ddp_speedup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic-arxiv")
    parser.add_argument("--root", default=None)
    parser.add_argument("--epochs", type=int, default=5, help="epochs per way (the first is not counted: warm-up)")
    parser.add_argument("--fanouts", default=None, help="train on sampled neighbourhoods (e.g. 15,10,5): each rank "
                        "then samples around its share of the seeds")
    parser.add_argument("--batch-size", type=int, default=1024, help="with --fanouts: seed nodes per batch")
    parser.add_argument("--nproc", type=int, default=2)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="results/ddp_speedup")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # internal: write one way's figures here
    pages.add_page_option(parser)
    return parser.parse_args(argv)


def worker(args: argparse.Namespace) -> int:
    """One way: train the teacher for ``--epochs`` epochs; rank 0 writes the per-epoch times."""
    from dataclasses import replace

    import gkd
    from gkd.train import distributed

    from .protocols import protocol

    distributed.init_from_env("cpu")
    proto = protocol(args.dataset, args.epochs)
    task = gkd.data.load(args.dataset, args.root)
    config = replace(proto.teacher_config, patience=args.epochs)
    if args.fanouts:
        config = replace(config, fanouts=tuple(int(f) for f in args.fanouts.split(",")), batch_size=args.batch_size)
    result = gkd.train_teacher(task, proto.teacher, config, use_cache=False)
    if distributed.is_main():
        counted = result.history[1:] or result.history
        Path(args.worker).write_text(json.dumps({
            "processes": distributed.world(), "threads": int(os.environ.get("OMP_NUM_THREADS", "0")),
            "epoch_s": statistics.median(h["epoch_seconds"] for h in counted),
            "valid_pass_s": statistics.median(h["valid_seconds"] for h in counted),
            "valid": result.scores["valid"], "epochs": len(result.history),
        }))
    return 0


def run_way(args: argparse.Namespace, processes: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "way.json"
        module = ["-m", "benchmarks.ddp_speedup", "--dataset", args.dataset, "--epochs", str(args.epochs),
                  "--worker", str(out), "--batch-size", str(args.batch_size)]
        module += ["--root", args.root] if args.root else []
        module += ["--fanouts", args.fanouts] if args.fanouts else []
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        command = (launcher if processes > 1 else [sys.executable]) + module
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{processes} process(es) x {threads} thread(s) failed:\n{done.stderr[-3000:]}")
        return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    measured = pages.provenance()
    if args.nproc < 2 or args.threads < 1:
        print("error: --nproc must be at least 2 and --threads at least 1", file=sys.stderr)
        return 2
    ways = [(1, 1), (1, args.threads), (args.nproc, max(1, args.threads // args.nproc))]
    rows = []
    for processes, threads in ways:
        row = run_way(args, processes, threads)
        rows.append(row)
        print(f"{processes} process(es) x {threads} thread(s): {row['epoch_s']:.2f} s per epoch "
              f"(+ {row['valid_pass_s']:.2f} s validation pass)", flush=True)
    base = rows[0]["epoch_s"]
    how = f"sampled (fanouts {args.fanouts}, {args.batch_size} seeds per batch)" if args.fanouts else "full-batch"
    lines = [f"{args.dataset}, {how} teacher training, median over epochs 2-{args.epochs}", "",
             "| processes x threads | s per epoch | validation pass (s) | speed-up over 1 x 1 |", "|---|---|---|---|"]
    lines += [f"| {r['processes']} x {r['threads']} | {r['epoch_s']:.2f} | {r['valid_pass_s']:.2f} | "
              f"{base / r['epoch_s']:.2f}x |" for r in rows]
    table = "\n".join(lines) + "\n"
    print(table)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    summary = {"dataset": args.dataset, "fanouts": args.fanouts, "ways": rows}
    atomic_write_text(json.dumps(summary, indent=1), Path(args.out) / "ddp_speedup.json")
    atomic_write_text(table, Path(args.out) / "ddp_speedup.md")
    pages.write_if_asked(args.page, "benchmarks.ddp_speedup", argv, "One process against several", measured, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m benchmarks.scale: memory and time of GLNN's pipeline on a large graph, phase by phase.

For each ``--modes`` entry (``full``: full-batch training and one full-graph forward; ``sampled``:
neighbour-sampled mini-batches and layer-wise inference), the protocol's teacher (SAGE 3x256 +
BatchNorm for the OGB-shaped sets) and its MLP student (GLNN) go through:

1. teacher training, ``--epochs`` epochs (time per epoch from the trainer's history, and the
   validation pass that follows each epoch);
2. teacher inference over every node (the soft labels), timed on its own;
3. GLNN student training from those soft labels (sampled mode: mini-batches of nodes; an MLP
   reads no neighbours, so its batches are the nodes alone);
4. student inference over every node.

Each phase reports its wall time and the process's peak resident memory during it
(``benchmarks.timing.PeakMemory``: the graph and features already in memory count, as they would for a
user). The graph's generation or loading is a phase too. The point is cost, not accuracy: with
one epoch the scores are far from converged. Results: ``<out>/scale.json`` and ``scale.md``,
written whole at the end of each phase (an interrupted run keeps the phases it finished).

Example (ogbn-products' shape, about 10 GB)::

    python -m benchmarks.scale --dataset synthetic-products --modes sampled --fanouts 15,10,5
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

import gkd
from gkd.errors import UnknownNameError
from gkd.io import atomic_write_text
from gkd.models.layerwise import layerwise_forward

from . import pages
from .protocols import PROTOCOLS, protocol
from .timing import PeakMemory


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="synthetic-arxiv",
                        help="a node dataset (synthetic-arxiv, synthetic-products, ...)")
    parser.add_argument("--root", default=None)
    parser.add_argument("--modes", default="full,sampled", help="comma-separated: full, sampled")
    parser.add_argument("--fanouts", default="15,10,5", help="sampled mode: in-neighbours per hop")
    parser.add_argument("--batch-size", type=int, default=1024, help="sampled mode: seed nodes per teacher batch")
    parser.add_argument("--student-batch-size", type=int, default=4096, help="sampled mode: nodes per student batch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results/scale")
    pages.add_page_option(parser)
    return parser.parse_args(argv)


class Phases:
    """The measured phases so far, rewritten whole (atomically) after each one."""

    def __init__(self, out: Path, header: dict) -> None:
        self.out, self.header, self.rows = out, header, []

    def record(self, mode: str, phase: str, seconds: float, peak_mib: float | None, **extra) -> None:
        row = {"mode": mode, "phase": phase, "seconds": seconds, "peak_mib": peak_mib, **extra}
        self.rows.append(row)
        peak = "-" if peak_mib is None else f"{peak_mib:,.0f} MiB"
        notes = _notes(extra)
        print(f"[{mode}] {phase}: {seconds:.1f} s, peak {peak}" + (f" ({notes})" if notes else ""), flush=True)
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(json.dumps({**self.header, "phases": self.rows}, indent=1), self.out / "scale.json")
        atomic_write_text(self.table(), self.out / "scale.md")

    def table(self) -> str:
        lines = [f"{self.header['dataset']}: {self.header['nodes']:,} nodes, {self.header['edges']:,} directed edges, "
                 f"{self.header['features']} features ({self.header['threads']} threads)", "",
                 "| mode | phase | time (s) | per epoch (s) | peak memory (MiB) | notes |", "|---|---|---|---|---|---|"]
        for row in self.rows:
            extra = {k: v for k, v in row.items() if k not in ("mode", "phase", "seconds", "peak_mib", "epoch_seconds")}
            per_epoch = "-" if row.get("epoch_seconds") is None else f"{row['epoch_seconds']:.1f}"
            peak = "-" if row["peak_mib"] is None else f"{row['peak_mib']:,.0f}"
            lines.append(f"| {row['mode']} | {row['phase']} | {row['seconds']:.1f} | {per_epoch} | {peak} | "
                         f"{_notes(extra)} |")
        return "\n".join(lines) + "\n"


def _notes(extra: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in extra.items())


def timed(fn):
    """(result, seconds, peak MiB) of ``fn()``."""
    with PeakMemory() as peak:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return result, seconds, peak.mib


def run_mode(mode: str, task: gkd.Task, args: argparse.Namespace, phases: Phases) -> None:
    proto = protocol(args.dataset, args.epochs)
    student_spec = next(s for s in proto.students if s.name == "mlp")
    sampled = mode == "sampled"
    fanouts = tuple(int(f) for f in args.fanouts.split(",")) if sampled else None
    tconfig = replace(proto.teacher_config, fanouts=fanouts, batch_size=args.batch_size, patience=args.epochs)
    sconfig = replace(proto.config_for(student_spec), fanouts=fanouts, batch_size=args.student_batch_size,
                      patience=args.epochs)

    torch.manual_seed(args.seed)
    teacher, seconds, peak = timed(
        lambda: gkd.train_teacher(task, proto.teacher, tconfig, seed=args.seed, use_cache=False))
    phases.record(mode, f"teacher {proto.teacher.label()} training", seconds, peak,
                  epoch_seconds=_mean(teacher.history, "epoch_seconds"),
                  valid_pass_s=_mean(teacher.history, "valid_seconds"), valid=teacher.scores["valid"])

    infer = (lambda: layerwise_forward(teacher.model, task.data).logits) if sampled else \
        (lambda: gkd.predict(teacher.model, task, replace(tconfig, layerwise=False)))
    _, seconds, peak = timed(infer)
    phases.record(mode, "teacher inference, every node" + (" (layer-wise)" if sampled else " (one forward)"),
                  seconds, peak)

    student, seconds, peak = timed(
        lambda: gkd.train_student(task, teacher, student_spec, "glnn", sconfig, seed=args.seed))
    phases.record(mode, f"student {student_spec.label()} GLNN training", seconds, peak,
                  epoch_seconds=_mean(student.history, "epoch_seconds"), valid=student.scores["valid"])

    _, seconds, peak = timed(lambda: gkd.predict(student.model, task, sconfig))
    phases.record(mode, "student inference, every node", seconds, peak)


def _mean(history: list[dict], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return sum(values) / len(values) if values else None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    measured = pages.provenance()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in ("full", "sampled")]
    if bad:
        print(f"error: unknown mode {bad[0]!r}; valid modes: full, sampled", file=sys.stderr)
        return 2
    node_sets = sorted(name for name, p in PROTOCOLS.items() if name in gkd.data.available()
                       and any(s.name == "mlp" for s in p.students) and p.teacher.name in ("sage", "gcn", "gin"))
    if args.dataset not in node_sets:
        print(f"error: {UnknownNameError('dataset', args.dataset, node_sets)}", file=sys.stderr)
        return 2
    task, seconds, peak = timed(lambda: gkd.data.load(args.dataset, args.root, seed=args.seed))
    header = {"dataset": args.dataset, "nodes": task.num_items, "edges": int(task.data.edge_index.size(1)),
              "features": int(task.data.x.size(1)), "threads": torch.get_num_threads(), "epochs": args.epochs,
              "fanouts": args.fanouts, "batch_size": args.batch_size, "student_batch_size": args.student_batch_size}
    phases = Phases(Path(args.out), header)
    phases.record("-", "load or generate the graph", seconds, peak)
    for mode in modes:
        run_mode(mode, task, args, phases)
    print(phases.table())
    pages.write_if_asked(args.page, "benchmarks.scale", argv, f"Cost at scale: {args.dataset}, phase by phase",
                         measured, phases.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""python -m benchmarks.cost: what each method costs per epoch, over the same student alone.

For each dataset (default Cora and CiteSeer, CPF split, the citation protocol), the protocol's
teacher is trained once (or taken from the cache); then every method trains the protocol's MLP
student (a method that brings its own student trains that one, and is compared with that
student alone) for ``--epochs`` epochs, in ``--rounds`` rounds in which the methods take turns,
all in this one process. The figure is the median training-epoch time (the epoch's loss passes
and optimiser steps; validation is timed apart and left out) over the epochs of each round
after its first ``--warmup``; the ratio is over the same student trained alone (``none``). The
bound: 1.5x the student alone, or 1 + K for a method whose definition adds K extra passes per
step (``Distiller.extra_passes``: faithful KD's and NOSMOG's PGD steps).

    python -m benchmarks.cost --root DIR --page docs/results/cost.md
"""
from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import replace

import gkd
from gkd import distill as gkd_distill
from gkd.train import seed_everything

from . import pages
from .protocols import protocol

DATASETS = ("cora", "citeseer")


def epoch_times(task, teacher, student, method: str, config, seed: int, warmup: int) -> list[float]:
    """The training-epoch times of one run of ``method`` on ``student``, its first ``warmup``
    epochs left out (the process's memory is still being mapped then: early epochs run several
    times slower than later ones)."""
    seed_everything(seed)
    result = gkd.train_student(task, teacher, student, method, config, seed=seed)
    return [h["epoch_seconds"] for h in result.history[warmup:]]


def measure(dataset: str, root: str | None, epochs: int, rounds: int, seed: int, warmup: int) -> list[dict]:
    """One row per method: median epoch seconds, the student alone's, the ratio and the bound."""
    proto = protocol(dataset)
    task = gkd.data.load(dataset, root, split=proto.split, seed=seed)
    teacher = gkd.train_teacher(task, proto.teacher, proto.teacher_config, seed=seed)
    methods = [m for m in gkd_distill.available() if task.kind in gkd_distill.kinds_of(m)]
    students = {m: proto.own_student(own) if (own := gkd_distill.student_model_of(m)) else proto.students[0]
                for m in methods}
    alone = {spec.label(): spec for spec in students.values()}
    runs = [(m, students[m]) for m in methods if m != "none"] + [("none", spec) for spec in alone.values()]
    samples: dict[tuple[str, str], list[float]] = {(m, s.label()): [] for m, s in runs}
    for _ in range(rounds):  # methods take turns: a slow spell of the machine hits them all alike
        for method, spec in runs:
            config = replace(proto.config_for(spec), epochs=epochs, patience=epochs)
            samples[(method, spec.label())] += epoch_times(task, teacher, spec, method, config, seed, warmup)
    rows = []
    for method, spec in runs:
        if method == "none":
            continue
        ms = statistics.median(samples[(method, spec.label())]) * 1e3
        base = statistics.median(samples[("none", spec.label())]) * 1e3
        k = gkd_distill.get(method).extra_passes
        bound = 1 + k if k else 1.5
        rows.append({"dataset": dataset, "method": method, "student": spec.label(), "epoch_ms": ms,
                     "alone_ms": base, "ratio": ms / base, "bound": bound})
    return sorted(rows, key=lambda r: r["ratio"])


def table(rows: list[dict]) -> str:
    lines = ["| dataset | method | student | epoch (ms) | student alone (ms) | ratio | bound | within |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['method']} | {r['student']} | {r['epoch_ms']:.1f} | {r['alone_ms']:.1f} | "
              f"{r['ratio']:.2f}x | {r['bound']:.1f}x | {'yes' if r['ratio'] <= r['bound'] else 'NO'} |" for r in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=",".join(DATASETS), help="comma-separated node datasets")
    parser.add_argument("--root", default=None)
    parser.add_argument("--epochs", type=int, default=20, help="epochs per run")
    parser.add_argument("--warmup", type=int, default=5, help="epochs of each run not counted")
    parser.add_argument("--rounds", type=int, default=3, help="rounds in which the methods take turns")
    parser.add_argument("--seed", type=int, default=0)
    pages.add_page_option(parser)
    args = parser.parse_args(argv)
    if args.rounds < 1 or not 0 <= args.warmup < args.epochs:
        print("error: --rounds must be at least 1 and --warmup between 0 and --epochs - 1", file=sys.stderr)
        return 2
    measured = pages.provenance()
    rows = [row for name in args.dataset.split(",") for row in measure(name.strip(), args.root, args.epochs,
                                                                       args.rounds, args.seed, args.warmup)]
    text = table(rows)
    print(text)
    pages.write_if_asked(args.page, "benchmarks.cost", argv, "What each method costs per epoch", measured, text)
    return 0 if all(r["ratio"] <= r["bound"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

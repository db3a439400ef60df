"""python -m benchmarks.weak_teacher: where a teacher errs, does RLD's refinement beat KD?

Cora with a random 60/20/20 split (most nodes labelled, as in supervised image classification).
The teacher is weak: a SAGE model that learnt from only ``--teacher-labels`` labelled nodes per
class (drawn from the student's training nodes) and was early-stopped on validation, about 66-70%
accurate and confidently wrong on about a third of the student's training nodes. (With
``--teacher-epochs N`` it is instead stopped after N epochs on the full training set: a teacher
that is weak but barely confident.) MLP students learn from the training nodes only with kd, dkd
and rld; there the labels show where the teacher is wrong, which is what RLD is built to use.
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.data.splits import per_class_split
from gkd.data.task import Task

from . import pages

METHODS = ("none", "kd", "dkd", "rld")


def weak_teacher(task: Task, seed: int, labels_per_class: int | None, epochs: int | None) -> gkd.FitResult:
    spec = ModelSpec("sage", dropout=0.5)
    if epochs is not None:
        return gkd.train_teacher(task, spec, TrainConfig(epochs=epochs, patience=10**6), seed=seed, use_cache=False)
    few = per_class_split(task.data.y, labels_per_class, 30, seed, candidates=task.split["train"])
    few_labels = dataclasses.replace(task, split=few)
    return gkd.train_teacher(few_labels, spec, TrainConfig(epochs=200, patience=50), seed=seed, use_cache=False)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m benchmarks.weak_teacher", description=__doc__)
    parser.add_argument("--root", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--teacher-labels", type=int, default=5, help="labelled nodes per class the teacher sees")
    parser.add_argument("--teacher-epochs", type=int, default=None,
                        help="instead: stop a teacher trained on every training node after this many epochs")
    pages.add_page_option(parser)
    args = parser.parse_args(argv)
    measured = pages.provenance()
    scores: dict[str, list[float]] = {name: [] for name in ("teacher", "teacher on training nodes", *METHODS)}
    # accuracy on the test nodes the teacher gets wrong: where refinement should matter
    where_wrong: dict[str, list[float]] = {name: [] for name in METHODS}
    for seed in range(args.seeds):
        task = gkd.data.load("cora", args.root, split="random", seed=seed)
        teacher = weak_teacher(task, seed, args.teacher_labels, args.teacher_epochs)
        y, predicted = task.labels(), teacher.logits.argmax(-1)
        for name, rows in (("teacher", task.split["test"]), ("teacher on training nodes", task.split["train"])):
            scores[name].append(100 * (predicted[rows] == y[rows]).float().mean().item())
        test = task.split["test"]
        wrong = test[predicted[test] != y[test]]
        config = TrainConfig(epochs=300, weight_decay=5e-4, patience=50)
        for method in METHODS:
            options = {} if method == "none" else {"unlabelled": False}
            result = gkd.train_student(task, teacher, ModelSpec("mlp", dropout=0.5), method, config, seed=seed,
                                       **options)
            scores[method].append(100 * result.scores["test"])
            where_wrong[method].append(100 * (result.logits[wrong].argmax(-1) == y[wrong]).float().mean().item())
        print(f"seed {seed}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in scores.items()), flush=True)
    lines = ["| model | test accuracy (%) | on test nodes the teacher gets wrong (%) |", "|---|---|---|"]
    for name, values in scores.items():
        wrong_values = where_wrong.get(name)
        lines.append(f"| {name} | {_mean_std(values)} | {_mean_std(wrong_values) if wrong_values else '-'} |")
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    pages.write_if_asked(args.page, "benchmarks.weak_teacher", argv, "KD, DKD and RLD under a weak teacher (Cora)",
                         measured, table)
    return 0


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.2f} ± {spread:.2f}"


if __name__ == "__main__":
    sys.exit(main())

"""python -m benchmarks.smoke --device cuda: does every method train on this device?

Trains a teacher on the embedded node task (and on the embedded graph, image and link tasks) and, for
every registered method built for that kind of task plus a combination, a student for a few
epochs on ``--device`` (a mutual method in a cohort with a model of the teacher's kind, an
ensemble method from two teachers); prints one
line per run (status, seconds, test score, where the loss terms ended) and exits 1 if any run
failed. No files needed. Also the quickest way to see that a new method works end to end.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
import traceback

import gkd
from gkd import ModelSpec, TrainConfig
from gkd import distill as gkd_distill
from gkd.train import loss_terms

COMBINATIONS = ["glnn+srd"]


def run(device: str, epochs: int, graph: bool, image: bool = True, link: bool = True) -> list[str]:
    """One line per (task, method); lines of failed runs start with FAILED."""
    lines = []
    tasks = [("synthetic", ModelSpec("sage", hidden=32, num_layers=3), ModelSpec("mlp", hidden=16))]
    if graph:
        tasks.append(("synthetic-graphs", ModelSpec("gin", hidden=16, num_layers=3), ModelSpec("gcn", hidden=8)))
    if image:
        tasks.append(("digits", ModelSpec("resnet", hidden=8, num_layers=1), ModelSpec("vit", hidden=16, num_layers=1)))
    if link:
        tasks.append(("synthetic-link", ModelSpec("sage", hidden=16), ModelSpec("mlp", hidden=16)))
    for dataset, teacher_spec, student_spec in tasks:
        task = gkd.data.load(dataset, seed=0)
        batch = 65536 if task.kind == "link" else 64  # a link task's batches count edges: one batch here
        config = TrainConfig(epochs=epochs, patience=epochs, device=device, batch_size=batch)
        teacher = gkd.train_teacher(task, teacher_spec, config, use_cache=False)
        second = None  # a second teacher, for the methods taught by several (the same model, another seed)
        lines.append(f"{dataset:>16} teacher {teacher_spec.label()}: test {teacher.scores['test']:.3f}")
        for method in gkd_distill.available() + COMBINATIONS:
            if task.kind not in gkd_distill.kinds_of(method):
                continue
            own = gkd_distill.student_model_of(method)
            student = ModelSpec(own, hidden=16, num_layers=3) if own else student_spec
            started = time.perf_counter()
            try:
                taught = gkd_distill.taught_by_of(method)
                if taught == "mutual":  # a cohort: the student beside a fresh model of the teacher's kind
                    result = gkd.train_cohort(task, [student, teacher_spec], method, config)[0]
                elif taught == "ensemble":
                    second = second or gkd.train_teacher(task, teacher_spec, config, seed=1, use_cache=False)
                    result = gkd.train_student(task, [teacher, second], student, method, config)
                else:
                    result = gkd.train_student(task, teacher, student, method, config)
                last = loss_terms(result.history[-1])
                bad = [k for k, v in last.items() if not math.isfinite(v)]
                status = "FAILED non-finite " + ",".join(bad) if bad else "ok"
                detail = f"test {result.scores['test']:.3f} terms " + " ".join(f"{k}={v:.3g}" for k, v in last.items())
            except Exception as exc:  # report every failure, then go on
                status, detail = "FAILED", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"
            seconds = time.perf_counter() - started
            lines.append(f"{status:<6} {dataset:>16} {method:>10} {seconds:6.1f} s  {detail}")
            print(lines[-1], flush=True)
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.smoke", description=__doc__)
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--no-graph", action="store_true", help="skip the graph-classification task")
    parser.add_argument("--no-image", action="store_true", help="skip the image-classification task")
    parser.add_argument("--no-link", action="store_true", help="skip the link-prediction task")
    args = parser.parse_args(argv)
    lines = run(args.device, args.epochs, graph=not args.no_graph, image=not args.no_image, link=not args.no_link)
    failed = [line for line in lines if line.startswith("FAILED")]
    print(f"{len(lines) - len(failed)} lines ok, {len(failed)} failed on {args.device}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

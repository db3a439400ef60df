"""python -m benchmarks.run: train a teacher per (dataset, seed), distil it into each student with
each method, and report test metric, gap closed and inference speed-up.

With no argument: the embedded synthetic node and graph tasks, methods none/kd/glnn, 3 seeds.
Results are appended atomically to ``<out>/results.jsonl`` as each run finishes; a rerun with the
same ``--out`` skips the runs already there, so an interrupted benchmark resumes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import gkd
from gkd import data as gkd_data
from gkd import distill as gkd_distill
from gkd.errors import DataNotFoundError, GkdError, UnknownNameError
from gkd.io import append_jsonl, atomic_write_text, read_jsonl
from gkd.faithfulness import faithful_share
from gkd.metrics import expected_calibration_error, relative_calibration
from gkd.models import count_parameters
from gkd.timing import median_seconds

from .protocols import PROTOCOLS, protocol
from .report import failures, markdown, summarise, to_csv

DEFAULT_DATASETS = ["synthetic", "synthetic-graphs"]
DEFAULT_METHODS = ["none", "kd", "glnn"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default=",".join(DEFAULT_DATASETS),
                        help=f"comma-separated; one of: {', '.join(sorted(PROTOCOLS))}")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated; each one of: {', '.join(gkd_distill.available())}, "
                             f"or a combination such as glnn+srd")
    parser.add_argument("--teacher", default=None,
                        help="teacher model name (default: the protocol's; e.g. gcn on the citation sets)")
    parser.add_argument("--students", default=None,
                        help="comma-separated model names: only these of the protocol's students (e.g. mlp)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0..N-1)")
    parser.add_argument("--seed-start", type=int, default=0,
                        help="first seed: runs seeds S..S+N-1 (to spread seeds over processes)")
    parser.add_argument("--epochs", type=int, default=None, help="override the protocol's epoch budget")
    parser.add_argument("--subset", type=int, default=None,
                        help="CIFAR: train on this many training images (class-balanced), for a CPU budget")
    parser.add_argument("--root", default=None, help="data root (default: $GKD_DATA_ROOT or ./datasets)")
    parser.add_argument("--out", default="results", help="results folder (default: results/)")
    parser.add_argument("--download", action="store_true", help="download missing OGB / Planetoid data")
    parser.add_argument("--no-cache", action="store_true", help="retrain teachers instead of using the cache")
    parser.add_argument("--progress", action="store_true", help="show per-epoch progress bars")
    parser.add_argument("--device", default="cpu", help="torch device for training and timing (e.g. cuda)")
    return parser.parse_args(argv)


def _names(text: str, valid: list[str], kind: str) -> list[str]:
    """Comma-separated names, each one of ``valid`` or (methods) a ``+`` combination of them."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        for part in name.split("+"):
            if part.strip() not in valid:
                raise UnknownNameError(kind, part.strip(), valid)
    return names


def run_key(record: dict) -> str:
    fields = ("dataset", "split", "teacher", "student", "method", "seed", "epochs", "subset")
    return json.dumps({f: record.get(f) for f in fields}, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        datasets = _names(args.dataset, sorted(PROTOCOLS), "dataset")
        methods = _names(args.methods, gkd_distill.available(), "method")
    except UnknownNameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out)
    results_path = out / "results.jsonl"
    done = {run_key(r) for r in read_jsonl(results_path) if r.get("status") == "ok"}
    started = time.perf_counter()
    for dataset in datasets:
        try:
            run_dataset(dataset, methods, args, results_path, done)
        except DataNotFoundError as exc:
            print(f"[{dataset}] skipped, data not found: {exc}", file=sys.stderr)
        except UnknownNameError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    teachers = {d: protocol(d).with_teacher(args.teacher).teacher.label() for d in datasets}
    records = [r for r in read_jsonl(results_path)
               if r["dataset"] in datasets and r["method"] in methods and r["teacher"] == teachers[r["dataset"]]]
    rows = summarise(records)
    table = markdown(rows)
    atomic_write_text(table, out / "summary.md")
    atomic_write_text(to_csv(rows), out / "summary.csv")
    print(table)
    for line in failures(records):
        print(f"failed: {line}", file=sys.stderr)
    print(f"total {time.perf_counter() - started:.1f} s; results in {out}/ (results.jsonl, summary.md, summary.csv)")
    return 0


def run_dataset(dataset: str, methods: list[str], args: argparse.Namespace, results_path: Path, done: set[str]) -> None:
    students = [n.strip() for n in args.students.split(",") if n.strip()] if args.students else None
    proto = protocol(dataset, args.epochs).with_teacher(args.teacher).with_students(students)
    split = proto.split if proto.split in ("public", "cpf") else "public"
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        task = gkd_data.load(dataset, args.root, split=split, seed=seed, download=args.download, subset=args.subset)
        tconfig = _run_config(proto.teacher_config, args)
        teacher = gkd.train_teacher(task, proto.teacher, tconfig, seed=seed, use_cache=not args.no_cache)
        test_index = task.split["test"]
        teacher_infer = median_seconds(lambda: gkd.predict(teacher.model, task, tconfig, test_index))
        print(f"[{dataset} seed {seed}] teacher {proto.teacher.label()}: test {teacher.scores['test']:.4f}"
              f"{' (cached)' if teacher.from_cache else ''}", flush=True)
        for student_spec, method in _pairs(proto, methods, task):
            sconfig = _run_config(proto.config_for(student_spec), args)
            record = {
                "dataset": dataset, "split": proto.split, "teacher": proto.teacher.label(),
                "student": student_spec.label(), "method": method, "seed": seed,
                "epochs": sconfig.epochs, "metric": task.metric,
            }
            if args.subset is not None and task.kind == "image":
                record["subset"] = args.subset
            if run_key(record) in done:
                continue
            record.update(_one_run(task, teacher, student_spec, method, sconfig, seed, teacher_infer))
            append_jsonl(record, results_path)
            if record["status"] == "ok":
                done.add(run_key(record))
                print(f"  {student_spec.label():>10} {method:>6}: test {record['test']:.4f} "
                      f"({record['train_seconds']:.1f} s)", flush=True)
            else:
                print(f"  {student_spec.label():>10} {method:>6}: FAILED {record['error']}", flush=True)


def _pairs(proto, methods: list[str], task) -> list[tuple]:
    """(student, method) runs: every protocol student with every method built for the task's
    kind (``Distiller.kinds``), except methods that bring their own student architecture (CPF,
    NOSMOG), which run once with it."""
    pairs = []
    for method in methods:
        if task.kind not in gkd_distill.kinds_of(method):
            print(f"  {method}: not built for {task.kind} tasks, skipped", flush=True)
            continue
        own = gkd_distill.student_model_of(method)
        if own is None:
            pairs += [(spec, method) for spec in proto.students]
        else:
            pairs.append((proto.own_student(own), method))
    return sorted(pairs, key=lambda pair: proto.students.index(pair[0]) if pair[0] in proto.students else len(proto.students))


def _one_run(task, teacher, student_spec, method, config, seed, teacher_infer) -> dict:
    try:
        result = gkd.train_student(task, teacher, student_spec, method, config, seed=seed)
        test_index = task.split["test"]
        student_infer = median_seconds(lambda: gkd.predict(result.model, task, config, test_index))
        return {
            "status": "ok", "test": result.scores["test"], "valid": result.scores["valid"],
            **_calibration(task, result.logits, teacher.logits),
            **_faithfulness(task, teacher.model, result.model, seed),
            "best_epoch": result.best_epoch, "train_seconds": result.train_seconds,
            "teacher_test": teacher.scores["test"], "teacher_valid": teacher.scores["valid"],
            "student_params": count_parameters(result.model), "teacher_params": count_parameters(teacher.model),
            "student_infer_s": student_infer, "teacher_infer_s": teacher_infer,
        }
    except (GkdError, RuntimeError, ValueError) as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5)}


def _calibration(task, student_logits, teacher_logits) -> dict:
    """ECE of both models and the student's calibration relative to the teacher, on the test set
    (multiclass tasks; softmax confidence means nothing for independent binary tasks)."""
    if task.objective != "multiclass":
        return {}
    test = task.split["test"]
    y = task.labels()[test]
    relative = relative_calibration(student_logits[test], teacher_logits[test])
    return {
        "ece": expected_calibration_error(student_logits[test], y),
        "teacher_ece": expected_calibration_error(teacher_logits[test], y),
        "relcal_gap": relative["gap"], "relcal_over": relative["over"], "relcal_under": relative["under"],
    }


def _faithfulness(task, teacher_model, student_model, seed: int) -> dict:
    """Empirical (PGD) share of the test nodes the teacher gets right where the student stays
    faithful to it, at gkd's default epsilon and delta (node tasks with a softmax)."""
    if task.kind != "node" or task.objective != "multiclass":
        return {}
    device = next(student_model.parameters()).device
    data = task.data if task.data.x.device == device else task.data.clone().to(device)
    share = faithful_share(teacher_model, student_model, data, task.split["test"].to(device), data.y, seed=seed)
    return {"faithful_share": share}


def _run_config(config: gkd.TrainConfig, args: argparse.Namespace) -> gkd.TrainConfig:
    return replace(config, progress=args.progress, device=args.device)


if __name__ == "__main__":
    sys.exit(main())

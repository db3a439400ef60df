"""python -m benchmarks.sweep: a small one-factor-at-a-time sweep of one method's options.

Each ``--vary NAME=V1,V2,...`` changes one option of ``--method`` while the others keep their
defaults; the defaults themselves run once as the reference. Every variant trains the protocol's
first student (or ``--student``) from the protocol's teacher (cached per seed) and is judged on
validation accuracy, as a default should be chosen; test accuracy is shown beside it. Runs are
appended atomically to ``<out>/sweep.jsonl`` as they finish and skipped when rerun, so an
interrupted sweep resumes.

Example (the sweep behind TRG's defaults)::

    python -m benchmarks.sweep --dataset cifar10 --root ../shared/datasets --subset 5000 \\
        --epochs 10 --method trg --vary m=8,32 --vary k=2,8 --vary gamma=0,1 --out runs/trg-sweep
"""
from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import gkd
from gkd import data as gkd_data
from gkd import distill as gkd_distill
from gkd.errors import UnknownNameError
from gkd.io import append_jsonl, read_jsonl

from . import pages
from .protocols import PROTOCOLS, protocol


def parse_vary(text: str) -> tuple[str, list]:
    """``"k=2,8"`` -> ``("k", [2, 8])``; values are Python literals (numbers, None, True) or text."""
    name, sep, values = text.partition("=")
    if not sep or not name.strip() or not values.strip():
        raise argparse.ArgumentTypeError(f"--vary takes NAME=V1,V2,...; got {text!r}")

    def literal(value: str):
        try:
            return ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            return value.strip()

    return name.strip(), [literal(v) for v in values.split(",")]


def variants(varies: list[tuple[str, list]]) -> list[dict]:
    """The defaults ({}), then each option at each listed value with the others left alone."""
    return [{}] + [{name: value} for name, values in varies for value in values]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(sorted(PROTOCOLS))}")
    parser.add_argument("--method", required=True)
    parser.add_argument("--vary", type=parse_vary, action="append", default=[], metavar="NAME=V1,V2")
    parser.add_argument("--student", default=None,
                        help="a protocol student by label (default: its first; a method's own student for "
                        "methods that bring one, e.g. nosmog)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (to spread seeds over processes)")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--subset", type=int, default=None)
    parser.add_argument("--root", default=None)
    parser.add_argument("--out", default="results/sweep")
    parser.add_argument("--device", default="cpu", help="torch device for training (e.g. cuda)")
    pages.add_page_option(parser)
    return parser.parse_args(argv)


def _key(record: dict) -> str:
    fields = ("dataset", "method", "student", "options", "seed", "epochs", "subset")
    return json.dumps({f: record.get(f) for f in fields}, sort_keys=True)


def table(records: list[dict]) -> str:
    """Markdown: one row per variant, mean validation and test accuracy over its seeds."""
    groups: dict[str, list[dict]] = {}
    for record in records:
        groups.setdefault(json.dumps(record["options"], sort_keys=True), []).append(record)
    lines = ["| options | runs | valid (%) | test (%) |", "|---|---|---|---|"]
    for options, runs in groups.items():
        valid = statistics.mean(r["valid"] for r in runs) * 100
        test = statistics.mean(r["test"] for r in runs) * 100
        label = options if options != "{}" else "defaults"
        lines.append(f"| {label} | {len(runs)} | {valid:.2f} | {test:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    measured = pages.provenance(args.device)
    if args.dataset not in PROTOCOLS:
        print(f"error: {UnknownNameError('dataset', args.dataset, sorted(PROTOCOLS))}", file=sys.stderr)
        return 2
    try:
        for options in variants(args.vary):
            gkd_distill.get(args.method, **options)  # unknown methods / options fail before training
    except (UnknownNameError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    proto = protocol(args.dataset, args.epochs)
    teacher_config = replace(proto.teacher_config, device=args.device)
    own = gkd_distill.student_model_of(args.method)
    candidates = [proto.own_student(own)] if own is not None else proto.students
    student = next((s for s in candidates if s.label() == args.student), None) if args.student else candidates[0]
    if student is None:
        print(f"error: unknown student {args.student!r}; valid: {[s.label() for s in candidates]}", file=sys.stderr)
        return 2
    path = Path(args.out) / "sweep.jsonl"
    done = {_key(r) for r in read_jsonl(path)}
    mine = []
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        task = gkd_data.load(args.dataset, args.root, split=proto.split, seed=seed, subset=args.subset)
        teacher = gkd.train_teacher(task, proto.teacher, teacher_config, seed=seed)
        for options in variants(args.vary):
            record = {"dataset": args.dataset, "method": args.method, "student": student.label(), "options": options,
                      "seed": seed, "epochs": proto.config_for(student).epochs, "subset": args.subset}
            mine.append(_key(record))
            if _key(record) in done:
                continue
            config = replace(proto.config_for(student), device=args.device)
            result = gkd.train_student(task, teacher, student, args.method, config, seed=seed, **options)
            record.update(valid=result.scores["valid"], test=result.scores["test"], train_seconds=result.train_seconds)
            append_jsonl(record, path)
            print(f"[seed {seed}] {options or 'defaults'}: valid {record['valid']:.4f} test {record['test']:.4f} "
                  f"({record['train_seconds']:.0f} s)", flush=True)
    wanted = set(mine)
    text = table([r for r in read_jsonl(path) if _key(r) in wanted])
    print(text)
    pages.write_if_asked(args.page, "benchmarks.sweep", argv, f"Sweep of {args.method}'s options on {args.dataset}",
                         measured, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

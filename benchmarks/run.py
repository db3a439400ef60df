"""python -m benchmarks.run: train a teacher per (dataset, seed), distil it into each student with
each method, and report test metric, gap closed, costs and inference speed-up.

    python -m benchmarks.run --suite quick                  # embedded data, minutes
    python -m benchmarks.run --suite survey --dataset cora,citeseer --root ../shared/datasets
    python -m benchmarks.run --dataset cora --methods none,kd,glnn --setting inductive
    python -m benchmarks.run --report results/              # tables and plots again, no training
    python -m benchmarks.run --report results/ --page docs/results/quick.md   # its results page

With no argument: the quick suite (embedded synthetic node and graph tasks and digits, no files).
Suites: quick, node, graph, vision, survey (``benchmarks.suites``); a dataset whose files are
absent is reported and skipped. Results are appended atomically to ``<out>/results.jsonl`` as each
run finishes; a rerun with the same ``--out`` skips the runs already there (keyed by dataset,
split, setting, teacher, student, method, seed, epochs and subset), so an interrupted benchmark
resumes. A failing run is recorded with its error and the rest goes on. ``--page PATH`` writes a
results page (``benchmarks.pages``): the summary with the command, commits, date and machine.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import gkd
from gkd import data as gkd_data
from gkd import distill as gkd_distill
from gkd.data.inductive import hold_out_test_nodes
from gkd.errors import DataNotFoundError, UnknownNameError
from gkd.io import append_jsonl, atomic_write_text, read_jsonl
from gkd.train import distributed

from . import pages
from .protocols import PROTOCOLS, Protocol, capped, protocol
from .report import write_page, write_reports
from .single import student_run, teacher_scores
from .suites import DEFAULT_SEEDS, SUITES, Entry, suite
from .timing import median_seconds

DEFAULT_METHODS = ["none", "kd", "glnn"]
SETTINGS = ("transductive", "inductive")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default=None, help=f"one of: {', '.join(sorted(SUITES))}")
    parser.add_argument("--dataset", default=None,
                        help=f"comma-separated; one of: {', '.join(sorted(PROTOCOLS))} (with --suite: only these)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated; each one of: {', '.join(gkd_distill.available())}, "
                             f"or a combination such as glnn+srd (with --suite: only these)")
    parser.add_argument("--teacher", default=None,
                        help="teacher model name (default: the protocol's; e.g. gcn on the citation sets)")
    parser.add_argument("--students", default=None,
                        help="comma-separated model names: only these of the protocol's students (e.g. mlp)")
    parser.add_argument("--setting", default="transductive", choices=SETTINGS,
                        help="node tasks: inductive hides 20%% of the test nodes from training (GLNN)")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds (default 5; the quick suite: 2)")
    parser.add_argument("--seed-start", type=int, default=0,
                        help="first seed: runs seeds S..S+N-1 (to spread seeds over processes)")
    parser.add_argument("--epochs", type=int, default=None, help="override the protocol's epoch budget")
    parser.add_argument("--subset", type=int, default=None,
                        help="CIFAR: train on this many training images (class-balanced), for a CPU budget")
    parser.add_argument("--budget", type=parse_budget, default=None, metavar="epochs=N,subset=M",
                        help="a quick look: cap every epoch budget at N and image training sets at M")
    parser.add_argument("--fanouts", type=parse_fanouts, default=None, metavar="F1,F2",
                        help="node tasks: train on sampled neighbourhoods, F_l neighbours per node at hop l "
                             "(-1: all); evaluation stays full-graph")
    parser.add_argument("--root", default=None, help="data root (default: $GKD_DATA_ROOT or ./datasets)")
    parser.add_argument("--out", default="results", help="results folder (default: results/)")
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="rewrite DIR's tables and plots from its saved results; no training")
    parser.add_argument("--page", default=None, metavar="PATH",
                        help="also write a results page there (e.g. docs/results/quick.md), from the saved results")
    parser.add_argument("--title", default=None, help="the results page's title (default: from the suite or datasets)")
    parser.add_argument("--download", action="store_true", help="download missing OGB / Planetoid data")
    parser.add_argument("--no-cache", action="store_true", help="retrain teachers instead of using the cache")
    parser.add_argument("--progress", action="store_true", help="show per-epoch progress bars")
    parser.add_argument("--device", default="cpu", help="torch device for training and timing (e.g. cuda)")
    return parser.parse_args(argv)


def parse_budget(text: str) -> dict[str, int]:
    """``"epochs=20,subset=2000"`` -> ``{"epochs": 20, "subset": 2000}`` (either may be left out)."""
    budget = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in ("epochs", "subset") or not value.strip().isdigit() or int(value) < 1:
            raise argparse.ArgumentTypeError(
                f"--budget takes epochs=N and/or subset=M (positive integers); got {text!r}")
        budget[key.strip()] = int(value)
    return budget


def parse_fanouts(text: str) -> tuple[int, ...]:
    """``"10,5"`` -> ``(10, 5)``."""
    try:
        fanouts = tuple(int(f) for f in text.split(","))
    except ValueError:
        fanouts = ()
    if not fanouts or any(f == 0 or f < -1 for f in fanouts):
        raise argparse.ArgumentTypeError(f"--fanouts takes positive counts or -1, comma-separated; got {text!r}")
    return fanouts


def _names(text: str, valid: list[str], kind: str) -> list[str]:
    """Comma-separated names, each one of ``valid`` or (methods) a ``+`` combination of them."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        for part in name.split("+"):
            if part.strip() not in valid:
                raise UnknownNameError(kind, part.strip(), valid)
    return names


def entries_from_args(args: argparse.Namespace) -> list[Entry]:
    """The runs asked for: a suite (narrowed by --dataset / --methods) or datasets x methods."""
    datasets = _names(args.dataset, sorted(PROTOCOLS), "dataset") if args.dataset else None
    methods = _names(args.methods, gkd_distill.available(), "method") if args.methods else None
    if args.suite is None and not datasets:
        args.suite = "quick"  # no dataset named: the embedded default
    if args.suite is not None:
        chosen = [dataclasses.replace(e, methods=tuple(m for m in e.methods if m in methods)) if methods else e
                  for e in suite(args.suite, datasets)]
        return [e for e in chosen if e.methods]
    students = tuple(n.strip() for n in args.students.split(",") if n.strip()) if args.students else None
    return [Entry(d, tuple(methods or DEFAULT_METHODS), teacher=args.teacher, students=students, setting=args.setting)
            for d in datasets]


def resolve(entry: Entry, args: argparse.Namespace) -> Protocol:
    """The protocol an entry runs under: its teacher, students and split, the epoch override or
    budget cap applied."""
    proto = protocol(entry.dataset, args.epochs).with_teacher(entry.teacher).with_students(
        list(entry.students) if entry.students else None)
    if entry.split is not None:
        proto = dataclasses.replace(proto, split=entry.split)
    budget = args.budget or {}
    return capped(proto, budget["epochs"]) if "epochs" in budget else proto


def resolved(entry: Entry, args: argparse.Namespace) -> Entry:
    """``entry`` with its teacher's model label and its split filled in, as the records name them
    (what the survey table matches results by)."""
    proto = resolve(entry, args)
    return dataclasses.replace(entry, teacher=proto.teacher.label(), split=proto.split)


def subset_of(args: argparse.Namespace) -> int | None:
    caps = [v for v in (args.subset, (args.budget or {}).get("subset")) if v is not None]
    return min(caps) if caps else None


def run_key(record: dict) -> str:
    fields = ("dataset", "split", "teacher", "student", "method", "seed", "epochs", "subset", "fanouts")
    key = {f: record.get(f) for f in fields}
    key["setting"] = record.get("setting", "transductive")
    return json.dumps(key, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.report is not None:
        return report_only(Path(args.report), args.page, args.title)
    distributed.init_from_env(args.device)  # under torchrun: one of several processes
    args.provenance = pages.provenance(args.device)
    try:
        entries = entries_from_args(args)
        for entry in entries:
            resolve(entry, args)  # unknown teachers / students fail before any training
    except UnknownNameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    seeds = args.seeds if args.seeds is not None else DEFAULT_SEEDS.get(args.suite, 5)
    out = Path(args.out)
    results_path = out / "results.jsonl"
    done = {run_key(r) for r in read_jsonl(results_path) if r.get("status") == "ok"}
    started = time.perf_counter()
    wanted = []
    for entry in entries:
        try:
            wanted += run_entry(entry, args, range(args.seed_start, args.seed_start + seeds), results_path, done)
        except DataNotFoundError as exc:
            print(f"[{entry.dataset}] skipped, data not found: {exc}", file=sys.stderr)
    if not distributed.is_main():  # rank 0 writes the results and reports
        return 0
    labelled = [resolved(e, args) for e in entries]
    title = args.title or default_title(args)
    plan = {"suite": args.suite, "entries": [dataclasses.asdict(e) for e in labelled], "keys": sorted(set(wanted)),
            "command": pages.command("benchmarks.run", argv), "title": title}
    atomic_write_text(json.dumps(plan, indent=1), out / "plan.json")
    records = [r for r in read_jsonl(results_path) if run_key(r) in set(wanted)]
    write_reports(out, records, labelled)
    if args.page:
        write_page(args.page, title, [plan["command"], report_command(out, args.page)], records, labelled)
        print(f"results page: {args.page}")
    print(f"total {time.perf_counter() - started:.1f} s; results in {out}/ (results.jsonl, summary.md, "
          f"summary.csv, summary.jsonl){f'; {distributed.world()} processes' if distributed.active() else ''}")
    return 0


def default_title(args: argparse.Namespace) -> str:
    """A results page's title when ``--title`` is not given: the suite, or the datasets."""
    what = f"the {args.suite} suite" if args.suite else args.dataset.replace(",", ", ")
    return f"Results: {what}"


def report_command(out: Path, page: str | Path) -> str:
    """The command that rewrites the results page ``page`` from ``out``'s saved results."""
    return pages.command("benchmarks.run", ["--report", str(out), "--page", str(page)])


def report_only(folder: Path, page: str | None = None, title: str | None = None) -> int:
    """Tables and plots again from ``folder``'s results: the runs its last plan named (all of
    them when there is no plan); with ``page``, the results page too."""
    results = read_jsonl(folder / "results.jsonl")
    if not results:
        print(f"error: no results in {folder}/results.jsonl", file=sys.stderr)
        return 2
    plan_path = folder / "plan.json"
    plan: dict = {}
    if plan_path.exists():
        plan = json.loads(plan_path.read_text())
        results = [r for r in results if _planned(r, plan["keys"])]
        entries = [Entry(**{**e, "methods": tuple(e["methods"]),
                            "students": tuple(e["students"]) if e["students"] else None,
                            "paper_pair": tuple(e["paper_pair"]) if e["paper_pair"] else None})
                   for e in plan["entries"]]
    else:
        entries = []
    write_reports(folder, results, entries)
    if page:
        if "command" not in plan:
            print(f"error: {plan_path} names no command (written before results pages existed); rerun the "
                  f"benchmark with --page {page} to write the page", file=sys.stderr)
            return 2
        write_page(page, title or plan["title"], [plan["command"], report_command(folder, page)], results, entries)
        print(f"results page: {page}")
    return 0


def _planned(record: dict, keys: list[str]) -> bool:
    """Whether ``record`` is one of a plan's runs, compared on the fields the plan's keys have (a
    plan written before the key gained a field still finds its runs)."""
    if not keys:
        return False
    fields = set(json.loads(keys[0]))
    full = json.loads(run_key(record))
    return json.dumps({f: full.get(f) for f in sorted(fields)}, sort_keys=True) in set(keys)


def run_entry(entry: Entry, args: argparse.Namespace, seeds: range, results_path: Path, done: set[str]) -> list[str]:
    """Every (seed, student, method) run of one entry not already in ``done``; returns the keys of
    all its runs, finished now or before."""
    proto = resolve(entry, args)
    subset = subset_of(args)
    keys = []
    for seed in seeds:
        task = gkd_data.load(entry.dataset, args.root, split=proto.split, seed=seed, download=args.download,
                             subset=subset if gkd_data.DATASETS[entry.dataset].takes_subset else None)
        split = hold_out_test_nodes(task, 0.2, seed) if entry.setting == "inductive" else None
        train_task = split.observed if split is not None else task
        pairs = _pairs(proto, entry.methods, task)
        records = []
        for student_spec, method in pairs:
            sconfig = _run_config(proto.config_for(student_spec), args)
            record = {
                "dataset": entry.dataset, "split": proto.split, "setting": entry.setting,
                "teacher": proto.teacher.label(), "student": student_spec.label(), "method": method,
                "seed": seed, "epochs": sconfig.epochs, "metric": task.metric, "provenance": args.provenance,
            }
            if subset is not None and task.kind == "image":
                record["subset"] = subset
            if args.fanouts is not None and task.kind == "node":
                record["fanouts"] = list(args.fanouts)
            keys.append(run_key(record))
            if run_key(record) not in done:
                records.append((student_spec, method, sconfig, record))
        if not records:
            continue
        tconfig = _run_config(proto.teacher_config, args)
        teacher = gkd.train_teacher(train_task, proto.teacher, tconfig, seed=seed, use_cache=not args.no_cache)
        test_index = train_task.split["test"]
        teacher_infer = median_seconds(lambda: gkd.predict(teacher.model, train_task, tconfig, test_index))
        teacher_record = teacher_scores(teacher, tconfig, split)
        say(f"[{entry.dataset}{'' if split is None else ' inductive'} seed {seed}] teacher {proto.teacher.label()}: "
            f"test {teacher_record['teacher_test']:.4f}{' (cached)' if teacher.from_cache else ''}")
        for student_spec, method, sconfig, record in records:
            record.update(student_run(train_task, teacher, student_spec, method, sconfig, seed, teacher_infer,
                                      teacher_record, split))
            if distributed.is_main():
                append_jsonl(record, results_path)
            if record["status"] == "ok":
                done.add(run_key(record))
                say(f"  {student_spec.label():>10} {method:>6}: test {record['test']:.4f} "
                    f"({record['train_seconds']:.1f} s)")
            else:
                say(f"  {student_spec.label():>10} {method:>6}: FAILED {record['error']}")
    return keys


def say(line: str) -> None:
    """Progress on rank 0 only (every line once under torchrun)."""
    if distributed.is_main():
        print(line, flush=True)


def _pairs(proto: Protocol, methods: tuple[str, ...], task) -> list[tuple]:
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
    def order(pair: tuple) -> int:
        return proto.students.index(pair[0]) if pair[0] in proto.students else len(proto.students)

    return sorted(pairs, key=order)


def _run_config(config: gkd.TrainConfig, args: argparse.Namespace) -> gkd.TrainConfig:
    sampled = {"fanouts": args.fanouts} if args.fanouts is not None else {}
    return dataclasses.replace(config, progress=args.progress, device=args.device, **sampled)


if __name__ == "__main__":
    sys.exit(main())

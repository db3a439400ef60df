"""python -m benchmarks.run: train a teacher per (dataset, seed), distil it into each student with
each method, and report test metric, gap closed, costs and inference speed-up.

    python -m benchmarks.run --suite quick                  # embedded data, minutes
    python -m benchmarks.run --suite survey --dataset cora,citeseer --root ../shared/datasets
    python -m benchmarks.run --dataset cora --methods none,kd,glnn --setting inductive
    python -m benchmarks.run --config benchmarks/configs/survey.toml --root ../shared/datasets   # a file
    python -m benchmarks.run --report results/              # tables and plots again, no training
    python -m benchmarks.run --report results/ --page docs/results/quick.md   # its results page

With no argument: the quick suite (embedded synthetic node and graph tasks and digits, no files).
Suites: quick, node, graph, vision, survey (``benchmarks.suites``); a dataset whose files are
absent is reported and skipped. Results are appended atomically to ``<out>/results.jsonl`` as each
run finishes; a rerun with the same ``--out`` skips the runs already there (keyed by dataset,
split, setting, teacher, student, method, seed, epochs, subset and the options that ran), so an
interrupted benchmark resumes and a changed option is a new run. A failing run is recorded with
its error and the rest goes on. ``--page PATH`` writes a results page (``benchmarks.pages``): the
summary with the command, commits, date and machine.

``--config FILE`` runs the experiments a TOML file names (``benchmarks.config``; the files kept in
``benchmarks/configs/``); flags given beside it override the file's values, ``--dataset`` and
``--methods`` narrow its experiments and ``--teacher`` / ``--students`` replace theirs, as they do
a suite's. ``--tensorboard`` also writes each run's per-epoch loss terms and validation scores as
TensorBoard event files under ``<out>/tensorboard/`` (``benchmarks.curves``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

import gkd
from gkd import data as gkd_data
from gkd import distill as gkd_distill
from gkd.data.inductive import hold_out_test_nodes
from gkd.errors import DataNotFoundError, GkdError, UnknownNameError
from gkd.io import atomic_write_text, cache_dir
from gkd.metrics import split_link_scores
from gkd.train import distributed

from . import curves, pages
from .config import ConfigError, merge_options, options_of_flags, parse_budget, parse_fanouts, parse_option
from .config import load as load_config
from .protocols import PAPER_PROTOCOLS, PROTOCOLS, Protocol, capped, protocol
from .report import write_page, write_reports
from .single import inference_seconds, student_run, teacher_scores
from .store import ResultsStore
from .suites import DEFAULT_SEEDS, SUITES, Entry, suite

DEFAULT_METHODS = ["none", "kd", "glnn"]
SETTINGS = ("transductive", "inductive")


def parse_args(argv: list[str] | None = None, namespace: argparse.Namespace | None = None) -> argparse.Namespace:
    """The flags of ``argv``; ``namespace``'s values stand in for the defaults of the flags not
    given (a configuration file's, ``arguments``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=None, metavar="FILE",
                        help="run the experiments of a TOML file (benchmarks/configs/*.toml; see "
                             "docs/guide/benchmarks.md); flags given beside it override the file's values, "
                             "--dataset / --methods narrow its experiments, --teacher / --students replace theirs")
    parser.add_argument("--suite", default=None, help=f"one of: {', '.join(sorted(SUITES))}")
    parser.add_argument("--dataset", default=None,
                        help=f"comma-separated; one of: {', '.join(sorted(PROTOCOLS))} (with --suite: only these)")
    parser.add_argument("--methods", default=None,
                        help=f"comma-separated; each one of: {', '.join(gkd_distill.available())}, "
                             f"or a combination such as glnn+srd (with --suite: only these)")
    parser.add_argument("--options", action="append", type=parse_option, default=None, metavar="METHOD.OPTION=V",
                        help="a method's option, over the protocol's (and a --config file's); repeat for more, "
                             "e.g. --options kd.temperature=2 --options kd.alpha=0.5")
    parser.add_argument("--teacher", default=None,
                        help="teacher model name (default: the protocol's; e.g. gcn on the citation sets)")
    parser.add_argument("--students", default=None,
                        help="comma-separated model names: only these of the protocol's students (e.g. mlp)")
    parser.add_argument("--setting", default="transductive", choices=SETTINGS,
                        help="node tasks: inductive hides 20%% of the test nodes from training (GLNN)")
    parser.add_argument("--protocol", default=None,
                        help=f"a paper's own protocol, one of: {', '.join(sorted(PAPER_PROTOCOLS))} "
                             f"(default: the dataset's; see benchmarks.protocols)")
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
    parser.add_argument("--selection", default="best", choices=("best", "last"),
                        help="which epoch's weights a run keeps: the best validation epoch (default) or the last "
                             "(as PyG's examples/glnn.py keeps); teachers and students alike")
    parser.add_argument("--no-faithfulness", action="store_true",
                        help="skip the faithful share (a PGD attack on teacher and student after each run)")
    parser.add_argument("--progress", action="store_true", help="show per-epoch progress bars")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also write each run's per-epoch loss terms and validation scores as TensorBoard "
                             "events in <out>/tensorboard/ (needs: pip install tensorboard)")
    parser.add_argument("--device", default="cpu", help="torch device for training and timing (e.g. cuda)")
    args = parser.parse_args(argv, namespace)
    if not hasattr(args, "entries"):
        args.entries = None  # a configuration file's experiments (``arguments``)
    return args


def arguments(argv: list[str]) -> argparse.Namespace:
    """The arguments of a run: the flags of ``argv`` and, with ``--config FILE``, the file's values
    under them (a flag given beside the file overrides it) and its experiments as ``entries``;
    raises ``ConfigError`` for a file that cannot run as written."""
    args = parse_args(argv)
    if args.config is None:
        return args
    config = load_config(args.config)
    return parse_args(argv, argparse.Namespace(**config.values, entries=config.entries))


def _names(text: str, valid: list[str], kind: str) -> list[str]:
    """Comma-separated names, each one of ``valid`` or (methods) a ``+`` combination of them; every
    unknown name is reported at once."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [part.strip() for name in names for part in name.split("+") if part.strip() not in valid]
    if unknown:
        raise UnknownNameError(kind, list(dict.fromkeys(unknown)), valid)
    return names


def entries_from_args(args: argparse.Namespace) -> list[Entry]:
    """The runs asked for: a suite or a configuration file's experiments (narrowed by --dataset /
    --methods, their teacher and students replaced by --teacher / --students) or datasets x methods."""
    datasets = _names(args.dataset, sorted(PROTOCOLS), "dataset") if args.dataset else None
    methods = _names(args.methods, gkd_distill.available(), "method") if args.methods else None
    students = tuple(n.strip() for n in args.students.split(",") if n.strip()) if args.students else None
    options = options_of_flags(args.options)
    if args.suite is None and not datasets and args.entries is None:
        args.suite = "quick"  # no dataset named: the embedded default
    if args.suite is not None or args.entries is not None:
        base = suite(args.suite, datasets) if args.entries is None else \
            tuple(e for e in args.entries if not datasets or e.dataset in datasets)
        chosen = []
        for entry in base:
            entry = _with_options(entry, options)
            entry = dataclasses.replace(entry, methods=tuple(m for m in entry.methods if m in methods)) if methods \
                else entry
            if args.teacher or students:
                entry = dataclasses.replace(entry, teacher=args.teacher or entry.teacher,
                                            students=students or entry.students)
            chosen.append(entry)
        return [e for e in chosen if e.methods]
    return [_with_options(Entry(d, tuple(methods or DEFAULT_METHODS), teacher=args.teacher, students=students,
                                setting=args.setting, protocol=args.protocol), options) for d in datasets]


def _with_options(entry: Entry, options: dict[str, dict]) -> Entry:
    """``entry`` with the ``--options`` of the methods it runs over its own."""
    mine = {m: o for m, o in options.items() if m in entry.methods}
    if not mine:
        return entry
    merged = dict(entry.options or {})
    for method, option in mine.items():
        merged[method] = merge_options(merged.get(method, {}), option)
    return dataclasses.replace(entry, options=merged)


def check_args(args: argparse.Namespace) -> list[str]:
    """What is wrong with the arguments, before any work: counts out of range, options that do
    not apply."""
    problems = []
    for name, value, least in (("--seeds", args.seeds, 1), ("--seed-start", args.seed_start, 0),
                               ("--epochs", args.epochs, 1), ("--subset", args.subset, 1)):
        if value is not None and value < least:
            problems.append(f"{name} must be at least {least}, got {value}")
    if args.selection not in ("best", "last"):
        problems.append(f"selection must be best or last, got {args.selection!r}")
    if args.config is not None and args.suite is not None:
        problems.append("--config and --suite both name the runs; pass one of them")
    if args.config is not None and (args.protocol is not None or args.setting != "transductive"):
        problems.append("--protocol and --setting apply to --dataset runs; a configuration file names each "
                        "experiment's (set them there)")
    if args.suite is not None and args.protocol is not None:
        problems.append("--protocol applies to --dataset runs; a suite names each entry's protocol")
    if args.suite is not None and args.setting != "transductive":
        problems.append("--setting applies to --dataset runs; a suite names each entry's setting (drop --setting "
                        "or name the datasets instead of the suite)")
    return problems


def check_writable(folder: Path, what: str, fix: str) -> str | None:
    """None when a file can be written in ``folder`` (created if need be); else what is wrong."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".writable."):
            pass
    except OSError as exc:
        return f"{what} {folder} is not writable ({exc.strerror or exc}); {fix}"
    return None


def resolve(entry: Entry, args: argparse.Namespace) -> Protocol:
    """The protocol an entry runs under: its teacher, students and split, the epoch override or
    budget cap applied."""
    proto = protocol(entry.dataset, args.epochs, entry.protocol).with_teacher(entry.teacher).with_students(
        list(entry.students) if entry.students else None)
    if entry.split is not None:
        proto = dataclasses.replace(proto, split=entry.split)
    if entry.options:  # a configuration file's options, over the protocol's
        proto = dataclasses.replace(proto, method_options={
            **proto.method_options,
            **{m: merge_options(proto.method_options.get(m, {}), o) for m, o in entry.options.items()}})
    budget = args.budget or {}
    return capped(proto, budget["epochs"]) if "epochs" in budget else proto


def check_entry(entry: Entry, args: argparse.Namespace) -> list[str]:
    """What is wrong with one entry before any work: unknown dataset, method, teacher, student,
    protocol, split or setting names, and method options the method does not take."""
    problems = []
    for text, valid, kind in ((entry.dataset, sorted(PROTOCOLS), "dataset"),
                              (",".join(entry.methods), gkd_distill.available(), "method")):
        try:
            _names(text, valid, kind)
        except UnknownNameError as exc:
            problems.append(f"[{entry.dataset}] {exc}")
    if entry.setting not in SETTINGS:
        problems.append(f"[{entry.dataset}] unknown setting {entry.setting!r}; valid settings: {', '.join(SETTINGS)}")
    if problems:
        return problems
    try:
        proto = resolve(entry, args)
    except UnknownNameError as exc:
        return [f"[{entry.dataset}] {exc}"]
    splits = gkd_data.DATASETS[entry.dataset].splits
    if proto.split not in splits:
        problems.append(f"[{entry.dataset}] unknown split {proto.split!r}; valid splits: {', '.join(splits)}")
    for method in entry.methods:
        try:
            gkd_distill.options_of(method, **proto.method_options.get(method, {}))
        except TypeError as exc:
            problems.append(f"[{entry.dataset}] {exc}")
    return problems


def resolved(entry: Entry, args: argparse.Namespace) -> Entry:
    """``entry`` with its teacher's model label and its split filled in, as the records name them
    (what the survey table matches results by)."""
    proto = resolve(entry, args)
    return dataclasses.replace(entry, teacher=proto.teacher.label(), split=proto.split)


def seed_count(args: argparse.Namespace) -> int:
    """How many seeds each run takes: ``--seeds`` (or the file's), else the suite's default (5)."""
    return args.seeds if args.seeds is not None else DEFAULT_SEEDS.get(args.suite, 5)


def subset_of(args: argparse.Namespace) -> int | None:
    caps = [v for v in (args.subset, (args.budget or {}).get("subset")) if v is not None]
    return min(caps) if caps else None


def run_key(record: dict) -> str:
    fields = ("dataset", "split", "teacher", "student", "method", "seed", "epochs", "subset", "fanouts", "protocol",
              "selection", "options")
    key = {f: record.get(f) for f in fields}
    key["setting"] = record.get("setting", "transductive")
    return json.dumps(key, sort_keys=True)


@dataclasses.dataclass
class Tally:
    """What one invocation did, for its last line and its exit status."""

    done_now: int = 0
    done_before: int = 0
    failed: int = 0
    claimed_elsewhere: int = 0
    missing: list[str] = dataclasses.field(default_factory=list)
    total: int = 0  # every run asked for, finished before or not: the N of "run i/N"
    positions: dict[str, int] = dataclasses.field(default_factory=dict)  # run key -> its i

    def place(self, key: str) -> str:
        """``run i/N`` for the run keyed ``key``, numbered in the order the runs were planned."""
        index = self.positions.setdefault(key, len(self.positions) + 1)
        return f"run {index}/{max(self.total, index)}"

    def account(self) -> str:
        parts = [f"{self.done_now} run(s) done now", f"{self.done_before} done before", f"{self.failed} failed"]
        if self.claimed_elsewhere:
            parts.append(f"{self.claimed_elsewhere} left to another process")
        if self.missing:
            parts.append(f"skipped for missing data: {', '.join(self.missing)}")
        return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 0 when every run asked for finished, 1 when a run failed or
    nothing ran, 2 for a usage error found before any work."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = arguments(argv)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.report is not None:
        return report_only(Path(args.report), args.page, args.title)
    problems = check_args(args)
    for text, valid, kind in ((args.dataset, sorted(PROTOCOLS), "dataset"),
                              (args.methods, gkd_distill.available(), "method")):
        try:
            _names(text or "", valid, kind)
        except UnknownNameError as exc:
            problems.append(str(exc))
    entries: list[Entry] = []
    if not problems:
        try:
            entries = entries_from_args(args)
        except UnknownNameError as exc:
            problems.append(str(exc))
    for entry in entries:  # unknown names and options fail before any training
        problems += check_entry(entry, args)
    for method in options_of_flags(args.options):
        if entries and not any(method in e.methods for e in entries):
            problems.append(f"--options names {method!r}, which no run uses; add it to --methods or drop the option")
    if args.tensorboard and not curves.available():
        problems.append("--tensorboard needs the tensorboard package, which is not installed; pip install "
                        "tensorboard (or gkd[tensorboard]), or drop --tensorboard")
    out = Path(args.out)
    problems += [p for p in (check_writable(out, "the results folder (--out)", "pick another --out"),
                             None if args.no_cache else check_writable(
                                 cache_dir("teachers"), "the teacher cache",
                                 "set GKD_CACHE_DIR to a writable folder, or pass --no-cache")) if p]
    if problems:
        for problem in dict.fromkeys(problems):
            print(f"error: {problem}", file=sys.stderr)
        return 2
    distributed.init_from_env(args.device)  # under torchrun: one of several processes
    args.provenance = pages.provenance(args.device)
    seeds = seed_count(args)
    store = ResultsStore(out, run_key)
    tally = Tally(total=seeds * sum(len(_pairs(resolve(e, args), e.methods, gkd_data.DATASETS[e.dataset].kind,
                                             quiet=True)) for e in entries))
    started = time.perf_counter()
    wanted = []
    for entry in entries:
        try:
            wanted += run_entry(entry, args, range(args.seed_start, args.seed_start + seeds), store, tally)
        except DataNotFoundError as exc:
            tally.missing.append(entry.dataset)
            print(f"[{entry.dataset}] skipped, data not found: {exc}", file=sys.stderr)
    if not distributed.is_main():  # rank 0 writes the results and reports
        return 0
    labelled = [resolved(e, args) for e in entries]
    title = args.title or default_title(args)
    plan = {"suite": args.suite, "config": args.config, "entries": [dataclasses.asdict(e) for e in labelled],
            "keys": sorted(set(wanted)),
            "command": pages.command("benchmarks.run", argv), "title": title}
    atomic_write_text(json.dumps(plan, indent=1), out / "plan.json")
    records = [r for r in store.records() if run_key(r) in set(wanted)]
    finished = [r for r in records if r.get("status") == "ok"]
    if records:
        write_reports(out, records, labelled)
    if args.page and records:
        write_page(args.page, title, [plan["command"], report_command(out, args.page)], records, labelled)
        print(f"results page: {args.page}")
    workers = f"; {distributed.world()} processes" if distributed.active() else ""
    print(f"{tally.account()}; {time.perf_counter() - started:.1f} s{workers}")
    if finished:
        print(f"results in {out}/ (results.jsonl, summary.md, summary.csv, summary.jsonl)")
    if not finished:
        print(f"error: nothing ran: no run asked for has finished results ({tally.account()})", file=sys.stderr)
        return 1
    if tally.failed or tally.missing or len(finished) < len(set(wanted)) - tally.claimed_elsewhere:
        print(f"error: not every run asked for finished: {tally.account()}", file=sys.stderr)
        return 1
    return 0


def default_title(args: argparse.Namespace) -> str:
    """A results page's title when ``--title`` is not given: the suite, or the datasets."""
    if args.suite:
        what = f"the {args.suite} suite"
    elif args.config:
        what = f"{Path(args.config).stem} ({args.config})"
    else:
        what = args.dataset.replace(",", ", ")
    return f"Results: {what}"


def report_command(out: Path, page: str | Path) -> str:
    """The command that rewrites the results page ``page`` from ``out``'s saved results."""
    return pages.command("benchmarks.run", ["--report", str(out), "--page", str(page)])


def report_only(folder: Path, page: str | None = None, title: str | None = None) -> int:
    """Tables and plots again from ``folder``'s results: the runs its last plan named (all of
    them when there is no plan); with ``page``, the results page too."""
    results = ResultsStore(folder, run_key).records()
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


def run_entry(entry: Entry, args: argparse.Namespace, seeds: range, store: ResultsStore, tally: Tally) -> list[str]:
    """Every (seed, student, method) run of one entry that is neither finished nor claimed by
    another process; returns the keys of all its runs. A dataset that fails validation, or a
    teacher that fails to train, is recorded as the failure of each run that needed it, and the
    rest goes on; a dataset whose files are absent raises ``DataNotFoundError`` (the entry is
    skipped)."""
    proto = resolve(entry, args)
    dataset = gkd_data.DATASETS[entry.dataset]
    subset = subset_of(args) if dataset.takes_subset else None
    pairs = _pairs(proto, entry.methods, dataset.kind)
    keys = []
    for seed in seeds:
        planned = planned_runs(entry, args, seed, proto, pairs)
        for *_, record in planned:
            record["provenance"] = args.provenance
        seed_keys = [run_key(r) for *_, r in planned]
        keys += seed_keys
        for key in seed_keys:
            tally.place(key)
        done = store.done() if distributed.is_main() else set()
        mine = set(distributed.from_rank0(store.claim(seed_keys) if distributed.is_main() else None))
        tally.done_before += sum(k in done for k in seed_keys)
        tally.claimed_elsewhere += sum(k not in done and k not in mine for k in seed_keys)
        todo = [item for item in planned if run_key(item[3]) in mine]
        if todo:
            run_seed(entry, proto, args, seed, subset, todo, store, tally)
    return keys


def planned_runs(entry: Entry, args: argparse.Namespace, seed: int, proto: Protocol | None = None,
                 pairs: list[tuple] | None = None) -> list[tuple]:
    """(student spec, method, train config, record) of every run of ``entry`` at ``seed``, before any
    work: the record holds the fields ``run_key`` reads (what a test compares two invocations by)."""
    proto = resolve(entry, args) if proto is None else proto
    dataset = gkd_data.DATASETS[entry.dataset]
    subset = subset_of(args) if dataset.takes_subset else None
    planned = []
    for student_spec, method in _pairs(proto, entry.methods, dataset.kind, quiet=True) if pairs is None else pairs:
        sconfig = _run_config(proto.config_for(student_spec), args)
        record = {
            "dataset": entry.dataset, "split": proto.split, "setting": entry.setting,
            "teacher": proto.teacher.label(), "student": student_spec.label(), "method": method,
            "seed": seed, "epochs": sconfig.epochs,
        }
        if subset is not None:
            record["subset"] = subset
        if entry.protocol is not None:
            record["protocol"] = entry.protocol
        if args.selection != "best":
            record["selection"] = args.selection
        if args.fanouts is not None and dataset.kind in ("node", "link"):
            record["fanouts"] = list(args.fanouts)
        options = run_options(proto, student_spec, method)
        if options:
            record["options"] = options
        planned.append((student_spec, method, sconfig, record))
    return planned


def run_seed(entry: Entry, proto: Protocol, args: argparse.Namespace, seed: int, subset: int | None,
             todo: list[tuple], store: ResultsStore, tally: Tally) -> None:
    """Load the task, train (or load) the teacher and distil each student of ``todo`` for one seed."""
    def fail(stage: str, exc: BaseException) -> None:
        for student_spec, method, _, record in todo:
            record.update(status="failed", error=f"{stage}: {type(exc).__name__}: {exc}",
                          traceback=traceback.format_exc(limit=5))
            keep(record)
            say(f"  {student_spec.label():>10} {method:>6}: FAILED {record['error']}")

    def keep(record: dict) -> None:
        if record["status"] != "ok":
            tally.failed += 1
        else:
            tally.done_now += 1
        if distributed.is_main():
            store.add(record)

    try:
        task = gkd_data.load(entry.dataset, args.root, split=proto.split, seed=seed, download=args.download,
                             subset=subset, normalize_features=proto.normalize_features)
        split = hold_out_test_nodes(task, 0.2, seed) if entry.setting == "inductive" else None
    except DataNotFoundError:
        if distributed.is_main():
            store.release(run_key(item[3]) for item in todo)
        raise
    except (GkdError, ValueError, RuntimeError, OSError) as exc:
        say(f"[{entry.dataset} seed {seed}] the data failed to load: {exc}")
        return fail("data", exc)
    train_task = split.observed if split is not None else task
    tconfig = _run_config(proto.teacher_config, args)
    say(f"[{entry.dataset} seed {seed}] teacher {proto.teacher.label()}: training (or loading from the cache), "
        f"then {len(todo)} student run(s)")
    try:
        teacher = gkd.train_teacher(train_task, proto.teacher, tconfig, seed=seed, use_cache=not args.no_cache)
        teacher_infer = inference_seconds(teacher.model, train_task, tconfig)
        teacher_record = teacher_scores(teacher, tconfig, split)
        if train_task.kind == "link":
            teacher_record["teacher_links"] = split_link_scores(train_task, teacher.logits)
    except (GkdError, ValueError, RuntimeError, FloatingPointError) as exc:
        say(f"[{entry.dataset} seed {seed}] the teacher {proto.teacher.label()} failed: {exc}")
        return fail("teacher", exc)
    say(f"[{entry.dataset}{'' if split is None else ' inductive'} seed {seed}] teacher {proto.teacher.label()}: "
        f"test {teacher_record['teacher_test']:.4f}{' (cached)' if teacher.from_cache else ''}")
    ensemble = None
    if any(gkd_distill.taught_by_of(method) == "ensemble" for _, method, _, _ in todo):
        try:  # the other teachers of a several-teacher method, each through the cache
            ensemble = [teacher] + [
                gkd.train_teacher(train_task, spec, _run_config(config, args), seed=seed, use_cache=not args.no_cache)
                for spec, config in proto.ensemble_teachers()[1:]]
        except (GkdError, ValueError, RuntimeError, FloatingPointError) as exc:
            say(f"[{entry.dataset} seed {seed}] an ensemble teacher failed: {exc}")
            return fail("ensemble teacher", exc)
        say(f"[{entry.dataset} seed {seed}] ensemble: "
            + ", ".join(f"{spec.label()} {t.scores['test']:.4f}" for (spec, _), t in zip(proto.ensemble_teachers(),
                                                                                          ensemble)))
    for student_spec, method, sconfig, record in todo:
        where = f"{tally.place(run_key(record))} [{entry.dataset} seed {seed}] {student_spec.label()} {method}"
        say(f"  {where}: started")
        record["metric"] = task.metric
        began = time.perf_counter()
        events = curves.writer(Path(args.out), record, run_key(record)) if args.tensorboard and distributed.is_main() \
            else None
        record.update(student_run(train_task, teacher, student_spec, method, sconfig, seed, teacher_infer,
                                  teacher_record, split, proto.method_options.get(method, {}),
                                  faithful=not args.no_faithfulness, on_history=events, ensemble=ensemble,
                                  peers=proto.cohort_peers()))
        keep(record)
        took = f"{time.perf_counter() - began:.1f} s"
        if record["status"] == "ok":
            say(f"  {where}: test {record['test']:.4f} (training {record['train_seconds']:.1f} s, {took} in all)")
        else:
            say(f"  {where}: FAILED after {took}: {record['error']}")


def say(line: str) -> None:
    """Progress on rank 0 only (every line once under torchrun)."""
    if distributed.is_main():
        print(line, flush=True)


def run_options(proto: Protocol, student_spec: gkd.ModelSpec, method: str) -> dict:
    """What a run's labels leave out and its key must hold: the method's options as they run (its
    defaults included, so a changed default is a new run) and the teacher's and the student's
    model options, each only when it has any."""
    parts = {"method": gkd_distill.options_of(method, **proto.method_options.get(method, {})),
             "teacher": dict(proto.teacher.options), "student": dict(student_spec.options)}
    taught = gkd_distill.taught_by_of(method)
    if taught == "ensemble":  # the teachers it learns from, each by its label and options
        parts["ensemble"] = [[spec.label(), dict(spec.options)] for spec, _ in proto.ensemble_teachers()]
    elif taught == "mutual":  # the models trained beside the student
        parts["cohort"] = [[spec.label(), dict(spec.options)] for spec in proto.cohort_peers()]
    return json.loads(json.dumps({part: value for part, value in parts.items() if value}))


def _pairs(proto: Protocol, methods: tuple[str, ...], kind: str, quiet: bool = False) -> list[tuple]:
    """(student, method) runs: every protocol student with every method built for the task
    ``kind`` (``Distiller.kinds``), except methods that bring their own student architecture (CPF,
    NOSMOG), which run once with it. ``quiet``: say nothing of the methods skipped (to count runs)."""
    pairs = []
    for method in methods:
        if kind not in gkd_distill.kinds_of(method):
            if not quiet:
                say(f"  {method}: not built for {kind} tasks, skipped")
            continue
        if gkd_distill.taught_by_of(method) == "ensemble" and not proto.ensemble:
            if not quiet:
                say(f"  {method}: this protocol names no other teachers for an ensemble (Protocol.ensemble), skipped")
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
    return dataclasses.replace(config, progress=args.progress, device=args.device,
                               selection=args.selection, **sampled)


if __name__ == "__main__":
    sys.exit(main())

"""Who teaches whom, measured: ``python -m benchmarks.teaching --out DIR --page docs/results/teaching.md``
runs the ``teaching`` suite (``benchmarks.suites``: Cora and CiteSeer largest components, the CPF
split and its 5-labels-per-class variant, 10 seeds) and writes a page of paired differences:

- each self-distillation method and the mutual cohort against the same student trained alone
  (method ``none``, the same seed: the same split and initial weights), mean difference with its
  95% interval (Student's t over the seeds) and whether the interval excludes 0;
- the ensemble of the protocol's teachers against KD from each single teacher, and from the best
  of them (the one whose KD student scores highest on average), paired by seed;
- published figures beside ours where the papers give them (``benchmarks.published``; their
  settings differ from ours: the page says how).

Resumable as every benchmark (``--out``'s results store); ``--report`` writes the page from the
saved results without training.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict

from . import pages
from . import published as pub
from . import run as bench
from .reproduce import environment, interval
from .store import ResultsStore
from .suites import TEACHING_DATASETS, TEACHING_SPLITS
from .tables import taught_by

DEFAULT_SEEDS = 10


def paired(ours: dict[int, float], base: dict[int, float]) -> dict | None:
    """Mean of ``ours`` and ``base`` (percent, by seed) over the seeds both have, and the mean of
    the per-seed differences with its 95% interval (none from one seed: it excludes nothing);
    None when they share no seed."""
    seeds = sorted(set(ours) & set(base))
    if not seeds:
        return None
    diffs = [100 * (ours[s] - base[s]) for s in seeds]
    low, high = interval(diffs)
    return {"n": len(seeds), "ours": 100 * statistics.mean(ours[s] for s in seeds),
            "ours_std": 100 * statistics.stdev([ours[s] for s in seeds]) if len(seeds) > 1 else 0.0,
            "base": 100 * statistics.mean(base[s] for s in seeds), "diff": statistics.mean(diffs),
            "low": low, "high": high, "excludes_zero": len(seeds) > 1 and bool(low > 0 or high < 0)}


def by_seed(records: list[dict]) -> dict[tuple, dict[int, float]]:
    """Test score by seed, keyed by (dataset, split, teacher, student, method)."""
    out: dict[tuple, dict[int, float]] = defaultdict(dict)
    options: dict[tuple, object] = {}
    for r in records:
        if r.get("status") == "ok" and not r.get("protocol") and r.get("setting", "transductive") == "transductive":
            key = (r["dataset"], r["split"], r["teacher"], r["student"], r["method"])
            if options.setdefault(key, r.get("options")) != r.get("options"):
                raise ValueError(f"the results hold {' '.join(key)} under two sets of options ({options[key]} and "
                                 f"{r.get('options')}): remove the stale records or use a fresh --out")
            out[key][r["seed"]] = r["test"]
    return out


def against_alone(records: list[dict]) -> list[dict]:
    """One row per method not taught by a teacher (self, mutual) and per (dataset, split, student):
    the paired difference from the same student alone under the same teacher's record."""
    scores = by_seed(records)
    rows = []
    for (dataset, split, teacher, student, method), ours in sorted(scores.items()):
        if method == "none" or taught_by(method) not in ("self", "mutual"):
            continue
        base = scores.get((dataset, split, teacher, student, "none"))
        result = paired(ours, base or {})
        if result is not None:
            rows.append({"dataset": dataset, "split": split, "student": student, "method": method,
                         "taught_by": taught_by(method), **result, **_peer(records, dataset, split, method)})
    return rows


def _peer(records: list[dict], dataset: str, split: str, method: str) -> dict:
    """A cohort's peer: its mean test score in the cohort, beside the teacher (the same architecture
    trained alone under the teacher's settings)."""
    runs = [r for r in records if r.get("status") == "ok" and r["dataset"] == dataset and r["split"] == split
            and r["method"] == method and r.get("peer_test")]
    if not runs:
        return {}
    return {"peer": 100 * statistics.mean(r["peer_test"][0] for r in runs),
            "peer_alone": 100 * statistics.mean(r["teacher_test"] for r in runs)}


def ensemble_rows(records: list[dict]) -> list[dict]:
    """The ensemble student against KD from each single teacher (same student, split and seed)."""
    scores = by_seed(records)
    rows = []
    for (dataset, split, teacher, student, method), ours in sorted(scores.items()):
        if taught_by(method) != "ensemble":
            continue
        singles = {t: s for (d, sp, t, st, m), s in scores.items()
                   if (d, sp, st, m) == (dataset, split, student, "kd")}
        if not singles:
            continue
        best = max(singles, key=lambda t: statistics.mean(singles[t].values()))
        for single in sorted(singles, key=lambda t: (t != best, t)):
            result = paired(ours, singles[single])
            if result is not None:
                rows.append({"dataset": dataset, "split": split, "student": student, "method": method,
                             "against": f"kd from {single}" + (" (best single)" if single == best else ""),
                             **result})
    return rows


def interval_text(row: dict) -> str:
    """A paired row's 95% interval, or ``-`` from a single seed."""
    return f"[{row['low']:+.2f}, {row['high']:+.2f}]" if row["n"] > 1 else "-"


def markdown(alone: list[dict], ensemble: list[dict]) -> str:
    lines = ["## Self-distillation and the mutual cohort against the same student alone", "",
             "Paired by seed (same split, same initial weights). Difference: ours − alone, percentage points.", "",
             "| dataset | split | student | method | taught by | seeds | ours | alone | difference | 95% interval "
             "| excludes 0 | peer in cohort / alone |", "|" + "---|" * 12]
    for r in alone:
        peer = f"{r['peer']:.2f} / {r['peer_alone']:.2f}" if "peer" in r else "-"
        lines.append(f"| {r['dataset']} | {r['split']} | {r['student']} | {r['method']} | {r['taught_by']} | {r['n']} "
                     f"| {r['ours']:.2f} ± {r['ours_std']:.2f} | {r['base']:.2f} | {r['diff']:+.2f} "
                     f"| {interval_text(r)} "
                     f"| {'yes' if r['excludes_zero'] else 'no'} | {peer} |")
    lines += ["", "## Several teachers: the ensemble against KD from each single teacher", "",
              "The ensemble's loss with one teacher is Hinton KD with the same options (T 4, unit weights), so "
              "each row differs only in the teachers. Difference: ensemble − KD, percentage points.", "",
              "| dataset | split | student | against | seeds | ensemble | KD | difference | 95% interval "
              "| excludes 0 |", "|" + "---|" * 10]
    for r in ensemble:
        lines.append(f"| {r['dataset']} | {r['split']} | {r['student']} | {r['against']} | {r['n']} "
                     f"| {r['ours']:.2f} ± {r['ours_std']:.2f} | {r['base']:.2f} | {r['diff']:+.2f} "
                     f"| {interval_text(r)} "
                     f"| {'yes' if r['excludes_zero'] else 'no'} |")
    return "\n".join(lines) + "\n"


def published_markdown() -> str:
    """The papers' own figures for these methods, with their settings (not ours: see each note)."""
    figures = [f for f in pub.FIGURES if f.paper in pub.TEACHING_PAPERS]
    if not figures:
        return "No published figure for these methods is recorded.\n"
    return pub.as_markdown(figures)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.teaching", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds (default 10)")
    parser.add_argument("--root", default=None, help="data root (default: $GKD_DATA_ROOT or ./datasets)")
    parser.add_argument("--out", default="results/teaching", help="results folder")
    parser.add_argument("--page", default=None, metavar="PATH", help="write the page there")
    parser.add_argument("--report", action="store_true", help="no training: the page from --out's saved results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the teaching suite (unless ``--report``), then write the page; exit 0 when every run
    finished, 1 when one failed, 2 for a usage error or no results."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.seeds < 1:
        print(f"error: --seeds must be at least 1, got {args.seeds}", file=sys.stderr)
        return 2
    status = 0
    if not args.report:
        run_argv = ["--suite", "teaching", "--seeds", str(args.seeds), "--out", args.out, "--no-faithfulness"]
        status = bench.main(run_argv + (["--root", args.root] if args.root else []))
    records = [r for r in ResultsStore(args.out, bench.run_key).records()
               if r["dataset"] in TEACHING_DATASETS and r.get("split") in TEACHING_SPLITS]
    if not records:
        print(f"error: no results in {args.out}/results.jsonl", file=sys.stderr)
        return 2
    text = markdown(against_alone(records), ensemble_rows(records))
    print(text)
    if args.page:
        measured = pages.measured_by(records)
        command, again = pages.report_commands("benchmarks.teaching", argv)
        body = "\n".join([f"Environment: {environment()}. Model selection: the best validation epoch.", "",
                          text.rstrip(), "", "## Published figures (their settings, not ours)", "",
                          published_markdown().rstrip()])
        pages.write_page(args.page, "Who teaches whom: self-distillation, mutual learning, several teachers",
                         [command, again], measured, body)
        print(f"results page: {args.page}")
    return status


if __name__ == "__main__":
    sys.exit(main())

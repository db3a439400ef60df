"""Link prediction, measured: ``python -m benchmarks.links --out DIR --page docs/results/links.md``
runs the ``link`` suite (``benchmarks.suites``: Cora and CiteSeer edges in LLP's transductive and
production settings, a SAGE teacher, an MLP student alone, with KD on edge scores and with LLP,
10 seeds) and writes a page:

- the link table: Hits@10/20/50/100 and MRR on the test pairs, the teacher's score, the gap
  closed, the production setting's kinds of test edge, and the latency of scoring 1,000 unseen
  pairs (the MLP reads the two end nodes' features; the SAGE teacher gathers both end nodes'
  neighbourhoods first: ``gkd.train.score_pairs``);
- each method against the MLP alone and LLP against its teacher, paired by seed (the same split
  and initial weights), mean difference of the selection metric with its 95% interval;
- LLP's published figures: not held (``PUBLISHED``).

Resumable as every benchmark (``--out``'s results store); ``--report`` writes the page from the
saved results without training.
"""
from __future__ import annotations

import argparse
import sys

from . import pages
from . import run as bench
from .reproduce import environment
from .store import ResultsStore
from .suites import LINK_DATASETS, LINK_METHODS, LINK_SETTINGS
from .tables import link_markdown, summarise
from .teaching import by_seed, interval_text, paired

DEFAULT_SEEDS = 10

PUBLISHED = (
    "LLP's own figures for Cora and CiteSeer (its Tables 2 and 3) could not be read here: the authors' "
    "repository (snap-research/linkless-link-prediction, commit 6ab5210) holds no results file and its "
    "`LLP.pdf` is the framework drawing, and the paper's text reachable from this machine stops before its "
    "tables. The paper reports Hits@20 on these sets over 10 runs, with the hyperparameters of a random "
    "search per setting (the values the link suite uses), on a V100 GPU. The split shares follow its text "
    "(5% validation and 15% test edges; its code's default test share is 10%)."
)


def paired_rows(records: list[dict]) -> list[dict]:
    """For each (dataset, setting, student): every method against the student alone, and LLP
    against its teacher (the teacher's test score of the same seed)."""
    scores = by_seed(records)
    teachers: dict[tuple, dict[int, float]] = {}
    for r in records:
        if r.get("status") == "ok" and r["method"] == "llp":
            key = (r["dataset"], r["split"], r["teacher"], r["student"])
            teachers.setdefault(key, {})[r["seed"]] = r["teacher_test"]
    rows = []
    for (dataset, split, teacher, student, method), ours in sorted(scores.items()):
        if method == "none":
            continue
        against = [("the MLP alone", scores.get((dataset, split, teacher, student, "none"), {}))]
        if method == "llp":
            against.append((f"its teacher ({teacher})", teachers.get((dataset, split, teacher, student), {})))
        for name, base in against:
            result = paired(ours, base)
            if result is not None:
                rows.append({"dataset": dataset, "split": split, "student": student, "method": method,
                             "against": name, **result})
    return rows


def paired_markdown(rows: list[dict]) -> str:
    lines = ["| dataset | setting | student | method | against | seeds | ours | theirs | difference | 95% interval "
             "| excludes 0 |", "|" + "---|" * 11]
    for r in rows:
        lines.append(f"| {r['dataset']} | {r['split']} | {r['student']} | {r['method']} | {r['against']} | {r['n']} "
                     f"| {r['ours']:.2f} ± {r['ours_std']:.2f} | {r['base']:.2f} | {r['diff']:+.2f} "
                     f"| {interval_text(r)} | {'yes' if r['excludes_zero'] else 'no'} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.links", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds (default 10)")
    parser.add_argument("--methods", default=",".join(LINK_METHODS),
                        help=f"methods of the link suite to run (default {','.join(LINK_METHODS)})")
    parser.add_argument("--root", default=None, help="data root (default: $GKD_DATA_ROOT or ./datasets)")
    parser.add_argument("--out", default="results/links", help="results folder")
    parser.add_argument("--page", default=None, metavar="PATH", help="write the page there")
    parser.add_argument("--report", action="store_true", help="no training: the page from --out's saved results")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the link suite (unless ``--report``), then write the page; exit 0 when every run
    finished, 1 when one failed, 2 for a usage error or no results."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    if args.seeds < 1:
        print(f"error: --seeds must be at least 1, got {args.seeds}", file=sys.stderr)
        return 2
    status = 0
    if not args.report:
        run_argv = ["--suite", "link", "--methods", args.methods, "--seeds", str(args.seeds), "--out", args.out,
                    "--no-faithfulness"]
        status = bench.main(run_argv + (["--root", args.root] if args.root else []))
    records = [r for r in ResultsStore(args.out, bench.run_key).records()
               if r["dataset"] in LINK_DATASETS and r.get("split") in LINK_SETTINGS]
    if not records:
        print(f"error: no results in {args.out}/results.jsonl", file=sys.stderr)
        return 2
    table = link_markdown(summarise(records))
    paired_table = paired_markdown(paired_rows(records))
    text = "\n".join(["## Test pairs", "", table.rstrip(), "", "## Paired by seed", "",
                      "Difference: ours − theirs on the selection metric (Hits@20), percentage points; same split and "
                      "initial weights for every method of a seed.", "", paired_table.rstrip(), "",
                      "## Published figures", "", PUBLISHED])
    print(text)
    if args.page:
        command, again = pages.report_commands("benchmarks.links", argv)
        body = "\n".join([f"Environment: {environment()}. Model selection: the best validation epoch (Hits@20).", "",
                          text])
        pages.write_page(args.page, "Link prediction: GNN teacher, MLP student, LLP", [command, again],
                         pages.measured_by(records), body)
        print(f"results page: {args.page}")
    return status


if __name__ == "__main__":
    sys.exit(main())

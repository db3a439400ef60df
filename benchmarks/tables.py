"""Result records (one JSON line per finished run) as a summary: one row per configuration, and
that summary as a markdown table, CSV and JSON lines."""
from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict

from gkd import distill as gkd_distill
from gkd.errors import UnknownNameError

COLUMNS = ["dataset", "teacher", "student", "method", "taught_by", "runs", "test", "teacher_test", "gap_closed",
           "student_ms", "teacher_ms", "speedup"]


# per-run figures that not every task has (calibration needs a multiclass task)
OPTIONAL_MEANS = ("ece", "teacher_ece", "relcal_gap", "relcal_over", "relcal_under", "faithful_share",
                  "peak_mib", "test_tran", "test_prod", "teacher_test_tran", "teacher_test_prod")


def taught_by(method: str) -> str:
    """Who teaches ``method`` (``Distiller.taught_by``: teacher, self, mutual, ensemble, labels);
    ``?`` for a method no longer registered (an old record)."""
    try:
        return gkd_distill.taught_by_of(method)
    except UnknownNameError:
        return "?"


def _mean_or_none(runs: list[dict], name: str) -> float | None:
    values = [r[name] for r in runs if r.get(name) is not None]
    return statistics.mean(values) if values else None


def _fmt(value: float | None, scale: float = 100.0, digits: int = 1) -> str:
    return "-" if value is None else f"{scale * value:.{digits}f}"


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(records: list[dict]) -> list[dict]:
    """One row per (dataset, split, setting, protocol, teacher, student, method): mean and std of the test
    metric (in %), the teacher's, the share of the teacher-student gap the method closes relative
    to the same student trained alone, training time and its overhead over the student alone,
    peak memory, and inference times (medians, ms) with the speed-up over the teacher."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok":
            protocol = r.get("protocol") or ""
            if r.get("selection"):  # a non-default model selection sets the runs apart like a protocol
                protocol = f"{protocol} protocol, {r['selection']} epoch" if protocol else f"{r['selection']} epoch"
            groups[(r["dataset"], r.get("split"), r.get("setting", "transductive"), protocol or None, r["teacher"],
                    r["student"], r["method"])].append(r)
    alone = {key[:-1]: runs for key, runs in groups.items() if key[-1] == "none"}
    rows = []
    for key, runs in sorted(groups.items(), key=lambda item: tuple(str(k) for k in item[0])):
        test_mean, test_std = _mean_std([100 * r["test"] for r in runs])
        teacher_mean, teacher_std = _mean_std([100 * r["teacher_test"] for r in runs])
        base_runs = alone.get(key[:-1])
        base = statistics.mean(x["test"] for x in base_runs) if base_runs else None
        gap = None
        if base is not None and teacher_mean - 100 * base >= 1.0:  # no gap to close below 1 point
            gap = (test_mean - 100 * base) / (teacher_mean - 100 * base)
        train_s = statistics.mean(r["train_seconds"] for r in runs)
        base_s = statistics.mean(r["train_seconds"] for r in base_runs) if base_runs else None
        student_ms = statistics.median(r["student_infer_s"] for r in runs) * 1e3
        teacher_ms = statistics.median(r["teacher_infer_s"] for r in runs) * 1e3
        rows.append({
            **{name: _mean_or_none(runs, name) for name in OPTIONAL_MEANS},
            "train_s": train_s, "overhead": train_s / base_s if base_s else None,
            "dataset": key[0], "split": key[1], "setting": key[2], "protocol": key[3], "teacher": key[4],
            "student": key[5], "method": key[6], "taught_by": taught_by(key[6]), "runs": len(runs),
            "test_mean": test_mean, "test_std": test_std, "teacher_mean": teacher_mean, "teacher_std": teacher_std,
            "gap_closed": gap, "student_ms": student_ms, "teacher_ms": teacher_ms,
            "speedup": teacher_ms / student_ms if student_ms > 0 else None, "metric": runs[0]["metric"],
            **_link_means(runs),
        })
    return rows


def _link_means(runs: list[dict]) -> dict:
    """A link row's mean Hits@K and MRR per evaluation split, the student's and the teacher's."""
    out = {}
    for field_name in ("links", "teacher_links"):
        if all(r.get(field_name) for r in runs):
            splits = runs[0][field_name]
            out[field_name] = {split: {m: statistics.mean(r[field_name][split][m] for r in runs) for m in metrics}
                               for split, metrics in splits.items()}
    return out


LINK_KINDS = ("test-old-old", "test-old-new", "test-new-new")


def link_markdown(rows: list[dict]) -> str:
    """The link rows: the test split's Hits@10/20/50/100 and MRR (mean over the runs, %), the
    teacher's on the selection metric, the gap closed, the production setting's kinds of test edge
    on the selection metric, and the latency of scoring the timed test pairs (``single.PAIRS_TIMED``:
    the MLP reads the end nodes' features, the GNN gathers both neighbourhoods)."""
    header = ("| dataset | student | method | runs | metric | test (%) | Hits@10 | Hits@20 | Hits@50 | Hits@100 | "
              "MRR | teacher (%) | gap closed | old-old / old-new / new-new | student ms | teacher ms | speed-up |")
    lines = [header, "|" + "---|" * 17]
    for r in rows:
        if "links" not in r:
            continue
        test = r["links"]["test"]
        metric = r["metric"]
        gap = "-" if r["gap_closed"] is None or r["method"] == "none" else f"{100 * r['gap_closed']:.0f}%"
        kinds = " / ".join(_fmt(r["links"][k][metric]) for k in LINK_KINDS) if LINK_KINDS[0] in r["links"] else "-"
        lines.append(
            f"| {dataset_label(r)} | {r['student']} | {r['method']} | {r['runs']} | {metric} | "
            f"{r['test_mean']:.2f} ± {r['test_std']:.2f} | "
            + " | ".join(_fmt(test[m]) for m in ("hits@10", "hits@20", "hits@50", "hits@100", "mrr"))
            + f" | {r['teacher_mean']:.2f} ± {r['teacher_std']:.2f} | {gap} | {kinds} | {r['student_ms']:.2f} | "
              f"{r['teacher_ms']:.2f} | {r['speedup']:.1f}x |")
    return "\n".join(lines) + "\n"


def markdown(rows: list[dict]) -> str:
    """The summary table. An inductive row's test figure is its held-out nodes' (GLNN's "ind");
    the dataset column names the setting and a split other than the protocol's usual one."""
    header = ("| dataset | teacher | student | method | taught by | runs | test (%) | teacher (%) | gap closed | "
              "ECE (%) | rel. cal. over / under (%) | faithful (%) | train s | overhead | peak MiB | "
              "student ms | teacher ms | speed-up |")
    lines = [header, "|" + "---|" * 18]
    for r in rows:
        gap = "-" if r["gap_closed"] is None or r["method"] == "none" else f"{100 * r['gap_closed']:.0f}%"
        relcal = "-" if r["relcal_over"] is None else f"{_fmt(r['relcal_over'])} / {_fmt(r['relcal_under'])}"
        overhead = "-" if r["overhead"] is None or r["method"] == "none" else f"{r['overhead']:.1f}x"
        lines.append(
            f"| {dataset_label(r)} | {r['teacher']} | {r['student']} | {r['method']} | {r['taught_by']} | "
            f"{r['runs']} | "
            f"{r['test_mean']:.2f} ± {r['test_std']:.2f} | {r['teacher_mean']:.2f} ± {r['teacher_std']:.2f} | {gap} | "
            f"{_fmt(r['ece'])} | {relcal} | {_fmt(r['faithful_share'])} | {r['train_s']:.1f} | {overhead} | "
            f"{_fmt(r['peak_mib'], 1.0, 0)} | {r['student_ms']:.2f} | {r['teacher_ms']:.2f} | {r['speedup']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    fields = ["dataset", "split", "setting", "protocol", "teacher", "student", "method", "taught_by", "metric", "runs",
              "test_mean",
              "test_std", "teacher_mean", "teacher_std", "gap_closed", *OPTIONAL_MEANS, "train_s", "overhead",
              "student_ms", "teacher_ms", "speedup"]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def failures(records: list[dict]) -> list[str]:
    return [f"{r['dataset']} {r['student']} {r['method']} seed {r['seed']}: {r['error']}"
            for r in records if r.get("status") != "ok"]


def dataset_label(row: dict) -> str:
    """``cora``, ``cora [inductive]``, ``cora [public]``, ``cora-lcc [glnn protocol]``: the dataset
    with what sets the row apart."""
    extras = [row["setting"]] if row.get("setting", "transductive") != "transductive" else []
    if row.get("protocol"):
        extras.append(row["protocol"] if " " in row["protocol"] else f"{row['protocol']} protocol")
    if row.get("split") == "public":
        extras.append("public split")
    if row.get("split") == "production":  # a link task's production setting
        extras.append("production setting")
    return row["dataset"] + (f" [{', '.join(extras)}]" if extras else "")


def to_jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)

"""Turn result records (one JSON line per finished run) into a summary table and CSV."""
from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict

COLUMNS = ["dataset", "teacher", "student", "method", "runs", "test", "teacher_test", "gap_closed",
           "student_ms", "teacher_ms", "speedup"]


# per-run figures that not every task has (calibration needs a multiclass task)
OPTIONAL_MEANS = ("ece", "teacher_ece", "relcal_gap", "relcal_over", "relcal_under", "faithful_share")


def _mean_or_none(runs: list[dict], name: str) -> float | None:
    values = [r[name] for r in runs if r.get(name) is not None]
    return statistics.mean(values) if values else None


def _fmt(value: float | None, scale: float = 100.0, digits: int = 1) -> str:
    return "-" if value is None else f"{scale * value:.{digits}f}"


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(records: list[dict]) -> list[dict]:
    """One row per (dataset, teacher, student, method): mean and std of the test metric (in %),
    the teacher's, the share of the teacher-student gap the method closes relative to the same
    student trained alone, and inference times (medians, ms) with the speed-up over the teacher."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in records:
        if r.get("status") == "ok":
            groups[(r["dataset"], r["teacher"], r["student"], r["method"])].append(r)
    alone = {key[:3]: statistics.mean(x["test"] for x in runs) for key, runs in groups.items() if key[3] == "none"}
    rows = []
    for key, runs in sorted(groups.items()):
        test_mean, test_std = _mean_std([100 * r["test"] for r in runs])
        teacher_mean, teacher_std = _mean_std([100 * r["teacher_test"] for r in runs])
        base = alone.get(key[:3])
        gap = None
        if base is not None and teacher_mean - 100 * base >= 1.0:  # no gap to close below 1 point
            gap = (test_mean - 100 * base) / (teacher_mean - 100 * base)
        student_ms = statistics.median(r["student_infer_s"] for r in runs) * 1e3
        teacher_ms = statistics.median(r["teacher_infer_s"] for r in runs) * 1e3
        rows.append({
            **{name: _mean_or_none(runs, name) for name in OPTIONAL_MEANS},
            "train_s": statistics.mean(r["train_seconds"] for r in runs),
            "dataset": key[0], "teacher": key[1], "student": key[2], "method": key[3], "runs": len(runs),
            "test_mean": test_mean, "test_std": test_std, "teacher_mean": teacher_mean, "teacher_std": teacher_std,
            "gap_closed": gap, "student_ms": student_ms, "teacher_ms": teacher_ms,
            "speedup": teacher_ms / student_ms if student_ms > 0 else None, "metric": runs[0]["metric"],
        })
    return rows


def markdown(rows: list[dict]) -> str:
    header = ("| dataset | teacher | student | method | runs | test (%) | teacher (%) | gap closed | "
              "ECE (%) | rel. cal. over / under (%) | faithful (%) | train s | student ms | teacher ms | speed-up |")
    lines = [header, "|" + "---|" * 15]
    for r in rows:
        gap = "-" if r["gap_closed"] is None or r["method"] == "none" else f"{100 * r['gap_closed']:.0f}%"
        relcal = "-" if r["relcal_over"] is None else f"{_fmt(r['relcal_over'])} / {_fmt(r['relcal_under'])}"
        lines.append(
            f"| {r['dataset']} | {r['teacher']} | {r['student']} | {r['method']} | {r['runs']} | "
            f"{r['test_mean']:.2f} ± {r['test_std']:.2f} | {r['teacher_mean']:.2f} ± {r['teacher_std']:.2f} | {gap} | "
            f"{_fmt(r['ece'])} | {relcal} | {_fmt(r['faithful_share'])} | {r['train_s']:.1f} | "
            f"{r['student_ms']:.2f} | {r['teacher_ms']:.2f} | {r['speedup']:.1f}x |"
        )
    return "\n".join(lines) + "\n"


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    fields = ["dataset", "teacher", "student", "method", "metric", "runs", "test_mean", "test_std", "teacher_mean",
              "teacher_std", "gap_closed", *OPTIONAL_MEANS, "train_s", "student_ms", "teacher_ms", "speedup"]
    writer = csv.DictWriter(buffer, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def failures(records: list[dict]) -> list[str]:
    return [f"{r['dataset']} {r['student']} {r['method']} seed {r['seed']}: {r['error']}"
            for r in records if r.get("status") != "ok"]

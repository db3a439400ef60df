"""Plots from saved benchmark results: PNG files drawn with matplotlib, an optional extra.

Inputs are the summary rows of ``benchmarks.report.summarise(records)`` (test metric and teacher
figures in %, ``speedup`` = teacher ms / student ms) and, for the training curves, the raw run
records of ``results.jsonl``, where a record may carry ``"curve": [[epoch, train_loss,
valid_score], ...]`` with ``valid_score`` a fraction like the record's ``test`` (drawn in %).

Each function writes one PNG atomically (a temporary file in the same folder, then
``os.replace``) and returns its path. matplotlib is imported only when a plot is drawn, and
figures are drawn on the Agg canvas directly, so no display and no global pyplot state are used.
"""
from __future__ import annotations

import math
import os
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from gkd.io import atomic_write

MISSING = "plots need matplotlib: pip install 'gkd[plot]'"
TEACHER_COLOUR = "0.35"
MARKERS = "osD^vPX*"


def _matplotlib() -> Any:
    """The matplotlib package, imported on first use, or a RuntimeError saying how to install it."""
    try:
        import matplotlib
        import matplotlib.figure  # noqa: F401  (loads matplotlib.figure onto the package)
        import matplotlib.ticker  # noqa: F401
    except ImportError as error:
        raise RuntimeError(MISSING) from error
    return matplotlib


def _new_figure(ncols: int, width: float, height: float) -> tuple[Any, list[Any]]:
    """A figure with ``ncols`` panels in a row, on the Agg canvas (no display needed); at least 7
    inches wide, so a one-panel figure still has room for its title."""
    matplotlib = _matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = matplotlib.figure.Figure(figsize=(max(width * ncols, 7.0), height), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, list(axes)


def _save(figure: Any, path: str | os.PathLike) -> Path:
    """Write the figure as a PNG to ``path`` atomically (``gkd.io.atomic_write``); return the path."""
    return atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=120))


def _colours(methods: Iterable[str]) -> dict[str, Any]:
    """One colour per method, the same in every panel (the teacher's grey is kept apart)."""
    matplotlib = _matplotlib()
    palette = matplotlib.colormaps["tab10"].colors
    return {m: palette[i % len(palette)] for i, m in enumerate(dict.fromkeys(methods))}


def _by(rows: Iterable[dict], *keys: str) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row.get(k) for k in keys)].append(row)
    return dict(groups)


def _metric_label(rows: list[dict]) -> str:
    metrics = sorted({str(r.get("metric", "metric")) for r in rows})
    return " / ".join(metrics)


# --------------------------------------------------------------------------- accuracy vs speed-up
def accuracy_vs_speedup(rows: list[dict], path: str | os.PathLike) -> Path:
    """Test metric (%) against inference speed-up over the teacher, one panel per dataset.

    One marker per (student, method): colour = method, shape = student (shared legend below the
    panels), one student's methods spread a few percent sideways so that none hides another;
    error bars are the std over seeds; the dashed line is the teacher's mean (named at
    the line's right end when a panel has several teachers)."""
    rows = [r for r in rows if r.get("speedup")]
    if not rows:
        raise ValueError("accuracy_vs_speedup: no summary row has a speed-up")
    datasets = _by(rows, "dataset")
    colours = _colours(r["method"] for r in rows)
    students = list(dict.fromkeys(r["student"] for r in rows))
    markers = {s: MARKERS[i % len(MARKERS)] for i, s in enumerate(students)}
    ticker = _matplotlib().ticker
    figure, axes = _new_figure(len(datasets), 4.2, 3.8)
    for ax, ((dataset,), group) in zip(axes, datasets.items()):
        for row in group:
            ax.errorbar(row["speedup"] * _dodge(row, group), row["test_mean"], yerr=row["test_std"],
                        fmt=markers[row["student"]], color=colours[row["method"]], markersize=7, capsize=3,
                        alpha=0.9)
        teachers = _by(group, "teacher")
        for (teacher,), trows in teachers.items():
            mean = trows[0]["teacher_mean"]
            ax.axhline(mean, color=TEACHER_COLOUR, linestyle="--", linewidth=1)
            if len(teachers) > 1:  # the legend's "teacher" does not say which line is which
                ax.annotate(teacher, (0.99, mean), xycoords=("axes fraction", "data"), xytext=(0, 3),
                            textcoords="offset points", ha="right", color=TEACHER_COLOUR, fontsize=8)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.05 * (high - low))  # room above the top line for its name
        ax.set_xscale("log")
        speeds = [r["speedup"] for r in group]
        ax.set_xlim(min(speeds + [1.0]) / 1.6, max(speeds) * 1.6)
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=_log_subs(*ax.get_xlim())))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:g}x"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(f"{dataset} ({_metric_label(group)})", fontsize=10)
        ax.set_xlabel("inference speed-up over the teacher")
        ax.set_ylabel(f"test {_metric_label(group)} (%)")
        ax.grid(True, which="major", alpha=0.3)
    handles = [ax.plot([], [], color=TEACHER_COLOUR, linestyle="--", linewidth=1, label="teacher")[0]]
    handles += [_handle(ax, "s", colour, method) for method, colour in colours.items()]
    if len(students) > 1:
        handles += [_handle(ax, marker, "0.5", student) for student, marker in markers.items()]
    columns = _legend_columns(len(handles), 4.2 * len(axes))
    figure.legend(handles=handles, loc="outside lower center", ncols=columns, fontsize=8, frameon=False)
    figure.suptitle(f"Test {_metric_label(rows)} against inference speed-up (mean ± std over seeds)",
                    fontsize=11)
    return _save(figure, path)


def _dodge(row: dict, group: list[dict], step: float = 1.07) -> float:
    """A factor that spreads one student's methods slightly sideways on the log axis (they share
    the student's speed-up), so their markers and error bars do not hide each other."""
    same = [r for r in group if (r["teacher"], r["student"]) == (row["teacher"], row["student"])]
    position = next(i for i, r in enumerate(same) if r is row)
    return step ** (position - (len(same) - 1) / 2)


def _log_subs(low: float, high: float) -> tuple[float, ...]:
    """Tick multiples per decade for a log axis from ``low`` to ``high``: fewer as it spans more."""
    decades = math.log10(high / low)
    return (1.0, 2.0, 3.0, 5.0) if decades < 1 else (1.0, 2.0, 5.0) if decades <= 2.2 else (1.0,)


def _legend_columns(entries: int, width_in: float) -> int:
    """Columns for a legend below a figure ``width_in`` inches wide, the rows filled evenly."""
    rows = math.ceil(entries / max(3, int(width_in / 0.95)))
    return math.ceil(entries / rows)


def _handle(ax: Any, marker: str, colour: Any, label: str) -> Any:
    """A legend entry: a marker with no line."""
    return ax.plot([], [], marker=marker, linestyle="none", color=colour, label=label)[0]


# --------------------------------------------------------------------------- teacher-student gap
def teacher_student_gap(rows: list[dict], path: str | os.PathLike) -> Path:
    """Grouped bars per (dataset, student): the teacher, the student alone (method ``none``) and
    the best distilled method (labelled with its name), means with std error bars."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    groups = _by(rows, "dataset", "teacher", "student")
    groups = dict(sorted(groups.items(), key=lambda group: datasets.index(group[0][0])))  # a dataset's together
    if not groups:
        raise ValueError("teacher_student_gap: no summary rows")
    several_metrics = len({r.get("metric") for r in rows}) > 1
    figure, (ax,) = _new_figure(1, max(6.0, 1.6 * len(groups) + 1.5), 4.4)
    width = 0.26
    bars = (("teacher", TEACHER_COLOUR), ("student alone", "#9ecae1"), ("best distilled", "#2171b5"))
    top = 0.0
    for i, ((dataset, teacher, student), group) in enumerate(groups.items()):
        alone = [r for r in group if r["method"] == "none"]
        distilled = [r for r in group if r["method"] != "none"]
        best = max(distilled, key=lambda r: r["test_mean"]) if distilled else None
        values = [(group[0]["teacher_mean"], group[0]["teacher_std"], "teacher"),
                  (alone[0]["test_mean"], alone[0]["test_std"], "none") if alone else None,
                  (best["test_mean"], best["test_std"], best["method"]) if best else None]
        for j, ((label, colour), value) in enumerate(zip(bars, values)):
            if value is None:
                continue
            mean, std, name = value
            x = i + (j - 1) * width
            ax.bar(x, mean, width, yerr=std, capsize=3, color=colour, label=label if i == 0 else None,
                   error_kw={"elinewidth": 1})
            text = f"{mean:.1f}" if j < 2 else f"{name}\n{mean:.1f}"
            ax.annotate(text, (x, mean + std), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=7)
            top = max(top, mean + std)
    labels = []
    for dataset, teacher, student in groups:
        label = f"{dataset}\n{teacher} → {student}"
        if several_metrics:
            label += f"\n({groups[(dataset, teacher, student)][0].get('metric')})"
        labels.append(label)
    ax.set_xticks(range(len(groups)), labels, fontsize=8)
    ax.set_ylim(0, max(top, 1.0) * 1.15)  # headroom for the values written above the bars
    ax.set_ylabel("test metric (%)")
    ax.set_title("Teacher, student alone and best distilled student (mean ± std over seeds)", fontsize=10)
    # below the axes, clear of the bars; each bar's value (and the best method's name) is above it
    figure.legend(loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return _save(figure, path)


# --------------------------------------------------------------------------- training curves
def _mean_curve(curves: list[list]) -> tuple[list[int], list[float]]:
    """Epochs where every seed has a validation score, and the mean score there."""
    per_seed = [{int(e): v for e, _, v in curve if v is not None and not math.isnan(v)} for curve in curves]
    epochs = sorted(set.intersection(*(set(s) for s in per_seed)))
    return epochs, [statistics.mean(s[e] for s in per_seed) for e in epochs]


def training_curves(records: list[dict], path: str | os.PathLike, dataset: str | None = None) -> Path:
    """Validation score (%) against epoch, one panel per (dataset, student), one line per method
    and protocol (teacher, split, setting; mean over seeds at each epoch where all seeds have a value).
    Records without a ``curve``
    (or of another dataset, when ``dataset`` is given) are skipped."""
    records = [r for r in records if r.get("curve") and r.get("status", "ok") == "ok"
               and (dataset is None or r["dataset"] == dataset)]
    if not records:
        where = f" for dataset {dataset!r}" if dataset else ""
        raise ValueError(f"training_curves: no record has a curve{where} "
                         f"(a curve is a list of [epoch, train_loss, valid_score] triples)")
    panels = _by(records, "dataset", "student")
    colours = _colours(r["method"] for r in records)
    figure, axes = _new_figure(len(panels), 4.2, 3.6)
    for ax, ((name, student), group) in zip(axes, panels.items()):
        several_teachers = len({r.get("teacher") for r in group}) > 1
        # runs of one method under different splits or settings are different protocols: separate lines
        several_protocols = len({(r.get("split"), r.get("setting", "transductive")) for r in group}) > 1
        for (teacher, split, setting, method), runs in _by(group, "teacher", "split", "setting", "method").items():
            epochs, scores = _mean_curve([r["curve"] for r in runs])
            label = f"{method} ({teacher})" if several_teachers else method
            if several_protocols:
                label += f" [{split}, {setting or 'transductive'}]"
            ax.plot(epochs, [100 * s for s in scores], color=colours[method], label=f"{label}, {len(runs)} seeds")
        metric = _metric_label(group)
        ax.set_title(f"{name}: {student}", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel(f"validation {metric} (%)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    figure.suptitle("Validation score during training (mean over seeds)", fontsize=11)
    return _save(figure, path)


# --------------------------------------------------------------------------- all of them
def write_all(rows: list[dict], records: list[dict], folder: str | os.PathLike) -> list[Path]:
    """``accuracy_vs_speedup.png``, ``teacher_student_gap.png`` and, when some record has a curve,
    ``training_curves.png`` in ``folder``; returns the paths written."""
    folder = Path(folder)
    paths = [accuracy_vs_speedup(rows, folder / "accuracy_vs_speedup.png"),
             teacher_student_gap(rows, folder / "teacher_student_gap.png")]
    if any(r.get("curve") for r in records):
        paths.append(training_curves(records, folder / "training_curves.png"))
    return paths


__all__ = ["MISSING", "accuracy_vs_speedup", "teacher_student_gap", "training_curves", "write_all"]

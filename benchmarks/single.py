"""One benchmark run: a student distilled from a trained teacher, scored, with its costs.

Cost figures per run: training wall time, peak memory (``benchmarks.timing.PeakMemory``: the process's
peak resident set on a CPU, allocated memory on a GPU), student and teacher parameters, and
inference time of both on the full evaluation set (same device, warm, median of several runs).
In GLNN's inductive setting the scores are those of the held-out test nodes on the full graph,
with the observed test nodes' score (``test_tran``) and the production mix beside them.
"""
from __future__ import annotations

import traceback
from collections.abc import Callable

import gkd
from gkd.data.inductive import InductiveSplit
from gkd.data.task import Task
from gkd.errors import GkdError
from gkd.metrics import expected_calibration_error, faithful_share, relative_calibration, score_rows, split_link_scores
from gkd.models import count_parameters
from gkd.train import loss_terms, score_pairs

from .timing import PeakMemory, median_seconds


def held_out_score(model, split: InductiveSplit, config: gkd.TrainConfig) -> float:
    """A model trained on the observed graph, scored on the held-out nodes of the full graph."""
    held = split.full.split["test"]
    return score_rows(split.full, gkd.predict(model, split.full, config, held), held)


PAIRS_TIMED = 1000
"""Unseen pairs a link model scores in the inference timing (``inference_seconds``)."""


def inference_seconds(model, task: Task, config: gkd.TrainConfig) -> float:
    """Median seconds a model takes to predict the task's test items: every test node, graph or
    image; for a link task, ``PAIRS_TIMED`` test pairs scored as deployed (``gkd.train.score_pairs``:
    an MLP reads the end nodes' features, a GNN gathers both end nodes' neighbourhoods first)."""
    test = task.split["test"]
    if task.kind == "link":
        pairs = task.data.pairs[:, test[:PAIRS_TIMED]]
        return median_seconds(lambda: score_pairs(model, task, pairs, device=config.device))
    return median_seconds(lambda: gkd.predict(model, task, config, test))


def teacher_scores(teacher: gkd.FitResult, config: gkd.TrainConfig, split: InductiveSplit | None) -> dict:
    """The teacher's test (and, inductive, observed-test and production) scores for the record."""
    if split is None:
        return {"teacher_test": teacher.scores["test"], "teacher_valid": teacher.scores["valid"]}
    ind = held_out_score(teacher.model, split, config)
    return {"teacher_test": ind, "teacher_valid": teacher.scores["valid"],
            "teacher_test_tran": teacher.scores["test"],
            "teacher_test_prod": split.production(teacher.scores["test"], ind)}


def student_run(task: Task, teacher: gkd.FitResult, student_spec, method: str, config: gkd.TrainConfig, seed: int,
                teacher_infer: float, teacher_record: dict, split: InductiveSplit | None = None,
                options: dict | None = None, faithful: bool = True,
                on_history: Callable[[list[dict]], None] | None = None, ensemble: list[gkd.FitResult] | None = None,
                peers: list[gkd.ModelSpec] | None = None) -> dict:
    """Train one student (``method`` with its ``options``) and return its record fields; a
    failure becomes ``status: failed`` with the error, so a suite goes on. ``faithful``: measure
    the faithful share too (a PGD attack on both models: on a CPU it can cost more than the
    training of a small student). ``on_history``: called with the run's per-epoch history
    (``FitResult.history``) once it has trained (``benchmarks.curves.writer``). By who teaches the
    method: an ensemble method learns from ``ensemble`` (``teacher`` first), a mutual one trains
    the student in a cohort with fresh ``peers`` (their test scores recorded as ``peer_test``), a
    self-distillation method from no teacher; ``teacher`` is the reference every record compares
    with (its score, calibration, faithfulness, speed)."""
    try:
        taught = gkd.distill.registry.taught_by_of(method)
        extra = {}
        with PeakMemory(config.device) as peak:
            if taught == "mutual":
                cohort = gkd.train_cohort(task, [student_spec, *(peers or [])], method, config, seed=seed,
                                          **(options or {}))
                result = cohort[0]
                extra["peer_test"] = [peer.scores["test"] for peer in cohort[1:]]
            else:
                given = ensemble if taught == "ensemble" else teacher
                result = gkd.train_student(task, given, student_spec, method, config, seed=seed, **(options or {}))
        if on_history is not None:
            on_history(result.history)
        student_infer = inference_seconds(result.model, task, config)
        scores = {"test": result.scores["test"], "valid": result.scores["valid"]}
        if task.kind == "link":  # Hits@K and MRR of every evaluation split
            extra["links"] = split_link_scores(task, result.logits)
        if split is not None:
            ind = held_out_score(result.model, split, config)
            scores.update(test=ind, test_tran=result.scores["test"],
                          test_prod=split.production(result.scores["test"], ind))
        return {
            "status": "ok", **scores,
            **calibration(task, result.logits, teacher.logits),
            **(faithfulness(task, teacher.model, result.model, seed) if faithful else {}),
            "best_epoch": result.best_epoch, "train_seconds": result.train_seconds, "peak_mib": peak.mib,
            "curve": learning_curve(result.history),
            **teacher_record,
            "student_params": count_parameters(result.model), "teacher_params": count_parameters(teacher.model),
            "student_infer_s": student_infer, "teacher_infer_s": teacher_infer, "taught_by": taught, **extra,
        }
    except (GkdError, RuntimeError, ValueError) as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(limit=5)}


def learning_curve(history: list[dict]) -> list[list[float]]:
    """[epoch, training loss (the sum of the method's weighted terms), validation score] per epoch."""
    return [[h["epoch"], sum(loss_terms(h).values()), h["valid"]] for h in history]


def calibration(task: Task, student_logits, teacher_logits) -> dict:
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


def faithfulness(task: Task, teacher_model, student_model, seed: int) -> dict:
    """Empirical (PGD) share of the test nodes the teacher gets right where the student stays
    faithful to it, at gkd's default epsilon and delta (node tasks with a softmax)."""
    if task.kind != "node" or task.objective != "multiclass":
        return {}
    device = next(student_model.parameters()).device
    data = task.data if task.data.x.device == device else task.data.clone().to(device)
    share = faithful_share(teacher_model, student_model, data, task.split["test"].to(device), data.y, seed=seed)
    return {"faithful_share": share}

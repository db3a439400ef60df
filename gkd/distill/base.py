"""The Distiller contract: what a method is given (``Batch``) and what it returns.

A distiller is an ``nn.Module`` (so projectors and other learnable parts train and save with the
student) whose ``forward(student, teacher, batch)`` returns a dict of named, already weighted
loss terms. It never trains, loads data or calls a model: the trainer does that.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn
from torch_geometric.data import Batch as GraphBatch
from torch_geometric.data import Data

from ..errors import MismatchError, NonFiniteLossError
from ..models.base import eval_mode
from ..outputs import Outputs

if TYPE_CHECKING:
    from ..data.task import Task


Teaching = Outputs | list[Outputs] | None
"""What a method's ``forward`` is taught by: a teacher's outputs, several models' outputs, or none."""

TAUGHT_BY = ("teacher", "self", "mutual", "ensemble", "labels")
"""The ways a method is taught (``Distiller.taught_by``)."""


@dataclass
class Batch:
    """What a distiller may know about the rows of the logits it is given.

    ``y``: targets, one per row. ``labelled``: rows whose label the student may learn from (the
    training rows). ``visible``: rows whose teacher output the student may learn from (every
    node the teacher saw in a transductive node task; the batch's graphs in a graph task).
    ``objective``: ``multiclass`` or ``binary`` (see ``Task``). ``epoch``: 0-based, and
    ``epochs``: the run's epoch budget (0: unknown), for methods with schedules. ``data``: the
    graph or graph batch the models ran on.
    """

    data: Data
    y: Tensor
    labelled: Tensor
    visible: Tensor
    objective: str = "multiclass"
    epoch: int = 0
    epochs: int = 0


class Distiller(nn.Module):
    """Base of every method: subclasses set ``name`` and ``family``, declare what they need and
    read below, and implement ``forward`` (and ``prepare`` when they size something from the
    models). The trainer reads these declarations; it has no branch for any one method."""

    name: ClassVar[str] = ""
    """The name the method registers and is looked up under."""

    family: ClassVar[str] = ""
    """Where the knowledge sits: ``output``, ``intermediate``, ``constructed`` (or ``none``)."""

    taught_by: ClassVar[str] = "teacher"
    """Who teaches the model (the survey's second axis; one of ``TAUGHT_BY``): ``teacher``, a
    trained teacher's outputs; ``self``, targets the model gives itself (deeper layers, earlier
    epochs, neighbours) with no teacher; ``mutual``, a cohort of models trained together, each
    taught by the others; ``ensemble``, several cached teachers; ``labels``, nobody (the labels
    alone). The trainer reads it to decide what ``forward``'s second argument holds."""

    needs_teacher: ClassVar[bool] = True
    """Whether the loss reads a teacher's outputs (the teacher's logits over every item)."""

    needs_teacher_hidden: ClassVar[bool] = False
    """Whether the loss reads the teacher's hidden representations too (the trainer then runs the
    frozen teacher, once per graph or per batch, instead of using its cached logits alone)."""

    logits_only: ClassVar[bool] = False
    """Whether the loss reads nothing but the logits of the rows its masks pick (no hidden layer,
    no graph): sampled training may then run the student on the seeds' rows alone (trimming)."""

    kinds: ClassVar[tuple[str, ...]] = ("node", "graph", "image")
    """The task kinds (``Task.kind``) the method is built for; the harness skips the others."""

    student_model: ClassVar[str | None] = None
    """A method built around its own student architecture (CPF, NOSMOG) names it here, as a model
    name for ``gkd.models.build``; None: any student."""

    @property
    def extra_passes(self) -> int:
        """How many forward-backward passes a training step takes beyond the trainer's one (PGD
        steps of a perturbation search); what the method's cost may be measured against."""
        return 0

    def prepare(self, *, task: "Task", student: nn.Module, teacher: nn.Module | list[nn.Module] | None,
                teacher_logits: Tensor | list[Tensor] | None) -> None:
        """Called once by the trainer before the first epoch. Methods that precompute something
        from the teacher (KRD's reliabilities) or must run the models themselves (faithful KD's
        perturbations) override it; keep model references out of ``nn.Module`` registration
        (e.g. in a tuple) so their parameters are not trained or saved twice. Default: nothing."""

    def link_context(self, anchors: Tensor) -> Tensor | None:
        """A link task's step: the nodes (A x C) the method reads around each of the step's
        ``anchors`` beyond the step's pairs (LLP's walks and random nodes). The trainer draws them
        before the step and hands them over as ``batch.data.context`` (in the step graph's
        numbering), so a sampled step holds their neighbourhoods too. Default: None, no context."""
        return None

    def forward(self, student: Outputs, teacher: Teaching, batch: Batch) -> dict[str, Tensor]:
        """The named, weighted loss terms of ``student``'s outputs. ``teacher`` holds, by
        ``taught_by``: the teacher's outputs (``teacher``), a list of each teacher's (``ensemble``),
        a list of the other cohort models' outputs, detached (``mutual``), or None (``self``,
        ``labels``)."""
        raise NotImplementedError

    def check_pair(self, student: Outputs, teacher: Teaching) -> None:
        """Raise ``MismatchError`` when teacher and student predictions cannot be compared."""
        if isinstance(teacher, list):
            for one in teacher:
                self.check_pair(student, one)
            return
        if teacher is None:
            if self.needs_teacher:
                raise MismatchError(f"method {self.name!r} needs a teacher's outputs, got none")
            return
        s, t = student.logits, teacher.logits
        if s.shape[-1] != t.shape[-1]:
            raise MismatchError(
                f"class-count mismatch: the teacher predicts {t.shape[-1]} classes, the student {s.shape[-1]}; "
                f"build both for the same task"
            )
        if s.shape[0] != t.shape[0]:
            raise MismatchError(
                f"the teacher gives {t.shape[0]} rows of logits and the student {s.shape[0]}: "
                f"they must predict the same nodes or graphs"
            )

    def loss(self, student: Outputs, teacher: Teaching, batch: Batch) -> tuple[Tensor, dict[str, float]]:
        """Total loss and each term's value; a NaN or infinite term is an error naming the term."""
        self.check_pair(student, teacher)
        terms = self(student, teacher, batch)
        total = 0.0
        values: dict[str, float] = {}
        for key, term in terms.items():
            value = float(term.detach())
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"loss term {key!r} of method {self.name!r} is {value} at epoch {batch.epoch}; "
                    f"check the learning rate, the inputs and the teacher's logits"
                )
            values[key] = value
            total = total + term
        return total, values  # type: ignore[return-value]


def probe_input(task: Task, device: torch.device | str) -> Data | Tensor:
    """Something both models of a task can run on: the graph of a node task, a batch of two graphs
    of a graph task, two images of an image task, the training graph and two pairs of a link task."""
    if task.kind == "node":
        return task.data_on(device)
    if task.kind == "link":  # the training graph with two of its pairs to score
        data = copy.copy(task.data_on(device))
        data.pairs = data.pairs[:, :2]
        return data
    if task.kind == "image":
        return task.data.batch(torch.arange(2), device)
    return GraphBatch.from_data_list(list(task.data[:2])).to(device)


def probe(task: Task, student: nn.Module, teacher: nn.Module) -> tuple[Outputs, Outputs]:
    """Both models' outputs on ``probe_input`` of ``task``, in eval mode (each model's mode is
    restored) and without gradients: what a method's ``prepare`` reads to size its projectors."""
    sample = probe_input(task, next(student.parameters()).device)
    with torch.no_grad(), eval_mode(student, teacher):
        return student(sample), teacher(sample)

"""The Distiller contract and the registry of methods.

A distiller is an ``nn.Module`` (so projectors and other learnable parts train and save with the
student) whose ``forward(student, teacher, batch)`` returns a dict of named, already weighted
loss terms. It never trains, loads data or calls a model: the trainer does that.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import MismatchError, NonFiniteLossError, UnknownNameError
from ..outputs import Outputs

if TYPE_CHECKING:
    from ..data.task import Task


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
    """Base class: subclasses set ``name``, ``family`` and implement ``forward``."""

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    needs_teacher: ClassVar[bool] = True
    needs_teacher_hidden: ClassVar[bool] = False
    # whether the loss reads nothing but the logits of the rows its masks pick (no hidden layer,
    # no graph): sampled training may then run the student on the seeds' rows alone (trimming)
    logits_only: ClassVar[bool] = False
    # the task kinds the method is built for (``Task.kind``)
    kinds: ClassVar[tuple[str, ...]] = ("node", "graph", "image")
    # a method built around its own student architecture (CPF) names it here, as a ModelSpec
    # name for ``gkd.models.build``; None: any student
    student_model: ClassVar[str | None] = None

    def prepare(self, *, task: "Task", student: nn.Module, teacher: nn.Module | None,
                teacher_logits: Tensor | None) -> None:
        """Called once by the trainer before the first epoch. Methods that precompute something
        from the teacher (KRD's reliabilities) or must run the models themselves (faithful KD's
        perturbations) override it; keep model references out of ``nn.Module`` registration
        (e.g. in a tuple) so their parameters are not trained or saved twice. Default: nothing."""

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        raise NotImplementedError

    def check_pair(self, student: Outputs, teacher: Outputs | None) -> None:
        """Raise ``MismatchError`` when teacher and student predictions cannot be compared."""
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

    def loss(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> tuple[Tensor, dict[str, float]]:
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


_REGISTRY: dict[str, type[Distiller]] = {}


def register(cls: type[Distiller]) -> type[Distiller]:
    if not cls.name or cls.name in _REGISTRY:
        raise ValueError(f"distiller name {cls.name!r} is empty or taken")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> list[str]:
    return sorted(_REGISTRY)


def registered(name: str) -> type[Distiller]:
    """The class registered under ``name``."""
    if name not in _REGISTRY:
        raise UnknownNameError("method", name, _REGISTRY)
    return _REGISTRY[name]


def kinds_of(name: str) -> tuple[str, ...]:
    """The task kinds method ``name`` (or every part of a ``+`` combination) is built for."""
    parts = [set(registered(part.strip()).kinds) for part in name.split("+")]
    return tuple(k for k in ("node", "graph", "image") if all(k in p for p in parts))


def student_model_of(name: str) -> str | None:
    """The student architecture method ``name`` (or a ``+`` combination) brings, if any."""
    own = {registered(part).student_model for part in name.split("+")} - {None}
    return next(iter(own), None)


def get(name: str, **options) -> Distiller:
    """An instance of method ``name`` with ``options`` (its constructor's keyword arguments).

    ``"a+b"`` combines methods (``gkd.distill.compose.Composite``); options then go per part,
    keyed by the part's name: ``get("glnn+srd", srd={"feat_weight": 1.0})``."""
    if "+" in name:
        from .compose import Composite

        names = [part.strip() for part in name.split("+")]
        unknown = sorted(set(options) - set(names))
        if unknown:
            raise TypeError(f"options of a combination go per method, keyed by {names}; got {unknown}")
        return Composite([get(part, **options.get(part, {})) for part in names])
    cls = registered(name)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"method {name!r} has no option {unknown}; its options: {', '.join(valid) or 'none'}")
    return cls(**options)


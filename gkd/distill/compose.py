"""Combining methods: ``gkd.distill.get("glnn+srd")`` sums the parts' named loss terms."""
from __future__ import annotations

from torch import Tensor, nn

from ..errors import MismatchError
from ..outputs import Outputs
from .base import TAUGHT_BY, Batch, Distiller

SEPARATOR = "+"


class Composite(Distiller):
    """The sum of several methods' loss terms. Terms are keyed by name; a name that several parts
    produce (the label term ``ce``, the logit term ``kd``) is counted once, from the first part
    that names it, so ``glnn+srd`` is GLNN's label and KL terms plus SRD's feature term.
    Every part is prepared, and its learnable parts (projectors) are trained with the student."""

    family = "composite"

    def __init__(self, parts: list[Distiller]):
        super().__init__()
        if len(parts) < 2:
            raise ValueError("a composite needs at least two methods")
        own = {p.student_model for p in parts if p.student_model is not None}
        if len(own) > 1:
            raise MismatchError(f"methods {[p.name for p in parts]} each need their own student model: {sorted(own)}")
        taught = [t for t in TAUGHT_BY if t != "labels" and any(p.taught_by == t for p in parts)]
        if len(taught) > 1 and {"mutual", "ensemble"} & set(taught):
            names = [p.name for p in parts]
            raise MismatchError(f"methods {names} are taught in different ways ({', '.join(taught)}): "
                                f"a mutual or several-teacher method combines only with methods taught the same way "
                                f"or by labels alone")
        self.parts = nn.ModuleList(parts)
        self.name = SEPARATOR.join(p.name for p in parts)  # instance attribute: not registered
        self.taught_by = "+".join(taught) or "labels"  # e.g. "teacher+self" for glnn+a self-distiller
        self.needs_teacher = any(p.needs_teacher for p in parts)
        self.needs_teacher_hidden = any(p.needs_teacher_hidden for p in parts)
        self.logits_only = all(p.logits_only for p in parts)
        self.student_model = next(iter(own), None)
        self.kinds = tuple(k for k in parts[0].kinds if all(k in p.kinds for p in parts))  # every part's

    def prepare(self, **kwargs) -> None:
        for part in self.parts:
            part.prepare(**kwargs)

    def link_context(self, anchors: Tensor) -> Tensor | None:
        """The first part's context (at most one part of a composite reads one)."""
        drawn = [context for part in self.parts if (context := part.link_context(anchors)) is not None]
        if len(drawn) > 1:
            raise MismatchError(f"methods {[p.name for p in self.parts]}: more than one draws a link context")
        return drawn[0] if drawn else None

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        terms: dict[str, Tensor] = {}
        for part in self.parts:
            for key, value in part(student, teacher, batch).items():
                terms.setdefault(key, value)
        return terms

"""The shared piece of the intermediate-layer family: which teacher representation teaches which
student representation (layer pairing), and the learnable bridges (projectors) between them.

A pairing is ``"last"`` (last hidden layer to last hidden layer, the default), ``"spaced"``
(every student hidden layer, each with the teacher layer at the same relative depth: for a
teacher twice as deep, student layer 1 of 2 pairs with teacher layer 2 of 4), or an explicit
list of ``(teacher, student)`` pairs, each side an index into ``Outputs.hidden`` (negative
indices count from the end) or, for a model wrapped by ``HookedModel``, the name of the hooked
submodule. ``level="graph"`` pairs the pooled graph representations instead (graph tasks; the
default there); node-level pairs need the same rows on both sides.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Union

import torch
from torch import Tensor, nn

from ..errors import MismatchError
from ..models.wrapper import HookedModel
from ..outputs import Outputs
from .base import Batch, Distiller, probe

if TYPE_CHECKING:
    from ..data.task import Task

LayerRef = Union[int, str]
Pairing = Union[str, Sequence[tuple[LayerRef, LayerRef]]]
LEVELS = ("auto", "node", "graph")


def hooked_names(model: nn.Module) -> list[str] | None:
    """The names of a ``HookedModel``'s hooked layers (None for other models: index them)."""
    return model.hidden_names if isinstance(model, HookedModel) else None


def spaced_pairs(teacher_depth: int, student_depth: int) -> list[tuple[int, int]]:
    """Every student layer s (0-based) with teacher layer ceil((s + 1) * T / S) - 1: the same
    relative depth, the last layers always paired."""
    return [(-(-(s + 1) * teacher_depth // student_depth) - 1, s) for s in range(student_depth)]


def _index(ref: LayerRef, depth: int, names: Sequence[str] | None, side: str) -> int:
    if isinstance(ref, str):
        if not names or ref not in names:
            hooked = ", ".join(names or []) or "none (wrap it in gkd.models.HookedModel with hidden=[...])"
            raise MismatchError(f"the {side} has no hooked layer named {ref!r}; its hooked layers: {hooked}")
        return list(names).index(ref)
    if not -depth <= ref < depth:
        raise MismatchError(f"the {side} has {depth} hidden layers; layer index {ref} is out of range")
    return ref % depth


def resolve_pairs(pairing: Pairing, teacher_depth: int, student_depth: int,
                  teacher_names: Sequence[str] | None = None,
                  student_names: Sequence[str] | None = None) -> list[tuple[int, int]]:
    """``(teacher_index, student_index)`` pairs into the two ``Outputs.hidden`` lists."""
    for depth, side in ((teacher_depth, "teacher"), (student_depth, "student")):
        if depth == 0:
            raise MismatchError(f"the {side} exposes no hidden layers (Outputs.hidden is empty): an MLP or GNN "
                                f"needs at least 2 layers, a wrapped model needs HookedModel(hidden=[...])")
    if pairing == "last":
        return [(teacher_depth - 1, student_depth - 1)]
    if pairing == "spaced":
        return spaced_pairs(teacher_depth, student_depth)
    if isinstance(pairing, str):
        raise ValueError(f"unknown pairing {pairing!r}; use 'last', 'spaced' or a list of (teacher, student) pairs")
    return [(_index(t, teacher_depth, teacher_names, "teacher"), _index(s, student_depth, student_names, "student"))
            for t, s in pairing]


class RepresentationDistiller(Distiller):
    """Base of the intermediate-layer methods: pairs representations, owns one bridge (e.g. a
    projector) per pair and adds each pair's ``pair_loss``. Subclasses give ``make_bridge`` and
    ``pair_loss``; the bridges are built in ``prepare`` (the trainer calls it before making the
    optimiser), so they are trained, restored to the best epoch and saved with the student."""

    family = "intermediate"
    needs_teacher_hidden = True
    uses_edges: ClassVar[bool] = False
    """Whether ``pair_loss`` works on the graph's edges (LSP): node level only, every node's rows."""

    def __init__(self, pairs: Pairing = "last", level: str = "auto"):
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}; valid levels: {', '.join(LEVELS)}")
        self.pairing, self.level = pairs, level
        self.pairs: list[tuple[int, int]] | None = None
        self.node_rows = False  # node task at node level: rows are the task's nodes (mask them)
        self.bridges = nn.ModuleList()

    # ------------------------------------------------------------------ subclass hooks
    def make_bridge(self, student_dim: int, teacher_dim: int) -> nn.Module:
        """The learnable map applied to a student representation of width ``student_dim`` (and,
        for methods that project both sides, see ``pair_loss``). Default: a linear projector
        when the widths differ, the identity when they match."""
        return nn.Identity() if student_dim == teacher_dim else nn.Linear(student_dim, teacher_dim)

    def pair_loss(self, h_s: Tensor, h_t: Tensor, bridge: nn.Module, batch: Batch) -> Tensor:
        raise NotImplementedError

    # ------------------------------------------------------------------ pairing
    def prepare(self, *, task: "Task", student: nn.Module, teacher: nn.Module | None,
                teacher_logits: Tensor | None) -> None:
        if teacher is None:
            raise ValueError(f"method {self.name!r} needs the teacher model (its hidden layers), not only its logits")
        if self.uses_edges and task.kind == "image":
            raise MismatchError(f"method {self.name!r} works on a graph's edges and task {task.name!r} is an image "
                                f"task; for images use 'trg' (it builds a graph over the image tokens)")
        s_out, t_out = probe(task, student, teacher)
        self.build(s_out, t_out, hooked_names(teacher), hooked_names(student),
                   graph_task=task.kind in ("graph", "image"))
        self.node_rows = task.kind == "node"

    def build(self, student: Outputs, teacher: Outputs, teacher_names: Sequence[str] | None = None,
              student_names: Sequence[str] | None = None, graph_task: bool = False) -> None:
        """Resolve the pairs and make the bridges from one pair of example outputs (``prepare``
        does this; call it yourself when driving the distiller outside ``gkd.fit``).
        ``graph_task``: one prediction per graph or image, so ``level="auto"`` pairs the pooled
        representations (an image model's pooled features)."""
        if self.level == "auto":
            self.level = "graph" if graph_task and not self.uses_edges else "node"
        if self.level == "graph":
            if student.pooled is None or teacher.pooled is None:
                raise MismatchError(f"method {self.name!r} at graph level needs pooled graph representations from "
                                    f"both models (Outputs.pooled); use level='node' or graph-level models")
            self.pairs = [(-1, -1)]
            dims = [(student.pooled.size(-1), teacher.pooled.size(-1))]
        else:
            self.pairs = resolve_pairs(self.pairing, len(teacher.hidden), len(student.hidden), teacher_names,
                                       student_names)
            dims = [(student.hidden[s].size(-1), teacher.hidden[t].size(-1)) for t, s in self.pairs]
        device = student.logits.device
        self.bridges = nn.ModuleList(self.make_bridge(ds, dt) for ds, dt in dims).to(device)

    def paired(self, student: Outputs, teacher: Outputs) -> list[tuple[Tensor, Tensor, nn.Module]]:
        """``(student_rep, teacher_rep, bridge)`` for every pair; teacher side detached. Rows: every
        node (or graph) of the batch; use ``rows`` to keep the ones the batch makes visible."""
        if self.pairs is None:
            raise RuntimeError(f"method {self.name!r}: call prepare() (gkd.fit does) or build() before the first loss")
        if self.level == "graph":
            chosen = [(student.pooled, teacher.pooled)]
        else:
            chosen = [(student.hidden[s], teacher.hidden[t]) for t, s in self.pairs]
        for h_s, h_t in chosen:
            if h_s.size(0) != h_t.size(0):
                raise MismatchError(
                    f"method {self.name!r}: the student's representation has {h_s.size(0)} rows and the teacher's "
                    f"{h_t.size(0)}; paired layers must describe the same nodes (or, with level='graph', the same "
                    f"graphs) - is one model graph-level and the other node-level?")
        return [(h_s, h_t.detach(), bridge) for (h_s, h_t), bridge in zip(chosen, self.bridges)]

    def rows(self, h: Tensor, batch: Batch) -> Tensor:
        """The rows of a node task's representation whose teacher output the batch makes visible
        (all rows of a graph batch, where ``visible`` counts graphs, not nodes, and all rows for
        methods over the graph's edges, which index every node)."""
        return h[batch.visible] if self.node_rows and not self.uses_edges else h

    def representation_loss(self, student: Outputs, teacher: Outputs, batch: Batch) -> Tensor:
        """Mean of ``pair_loss`` over the pairs, on the visible rows."""
        losses = [self.pair_loss(self.rows(h_s, batch), self.rows(h_t, batch), bridge, batch)
                  for h_s, h_t, bridge in self.paired(student, teacher)]
        return torch.stack(losses).mean()


def sample_rows(n: int, max_nodes: int, device: torch.device | str = "cpu",
                generator: torch.Generator | None = None) -> Tensor | None:
    """Indices of ``max_nodes`` rows drawn uniformly without replacement from ``n`` (the global
    RNG unless a ``generator`` is given, so deterministic under ``torch.manual_seed``); ``None``
    when ``n <= max_nodes`` (keep every row)."""
    if n <= max_nodes:
        return None
    if generator is not None:
        return torch.randperm(n, generator=generator, device=generator.device)[:max_nodes].to(device)
    return torch.randperm(n, device=device)[:max_nodes]


def sample_pair(h_s: Tensor, h_t: Tensor, max_rows: int) -> tuple[Tensor, Tensor]:
    """The same ``max_rows`` rows (``sample_rows``) of a student and a teacher representation;
    both unchanged when they have no more rows than that."""
    index = sample_rows(h_s.size(0), max_rows, h_s.device)
    return (h_s, h_t) if index is None else (h_s[index], h_t[index])

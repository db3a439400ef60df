"""LSP: local structure preserving distillation over the graph's edges."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import MismatchError
from ..outputs import Outputs
from .base import Batch
from .losses import label_loss
from .registry import register
from .representation import Pairing, RepresentationDistiller

KERNELS = ("distance", "linear", "poly", "rbf")


def edge_scores(h: Tensor, edge_index: Tensor, kernel: str = "distance", *, s: float = 1.0, c: float = 1.0,
                d: float = 2.0, sigma: float = 1.0) -> Tensor:
    """One similarity score per edge j -> i (``edge_index[0]`` = j, the source; ``edge_index[1]`` =
    i, the target) between the representations h_i and h_j:

    ``distance``: -||h_i - h_j||_2 / s (the authors' code); ``linear``: h_i . h_j;
    ``poly``: (h_i . h_j + c)^d; ``rbf``: exp(-||h_i - h_j||^2 / (2 sigma^2)).

    Memory O(E d): two gathered E x d blocks, never an N x N matrix."""
    src, dst = edge_index[0], edge_index[1]
    h_i, h_j = h[dst], h[src]
    if kernel == "distance":
        return -torch.linalg.vector_norm(h_i - h_j, dim=-1) / s
    if kernel == "linear":
        return (h_i * h_j).sum(dim=-1)
    if kernel == "poly":
        return ((h_i * h_j).sum(dim=-1) + c).pow(d)
    if kernel == "rbf":
        return torch.exp(-(h_i - h_j).pow(2).sum(dim=-1) / (2 * sigma**2))
    raise ValueError(f"lsp: unknown kernel {kernel!r}; valid kernels: {', '.join(KERNELS)}")


def edge_log_softmax(scores: Tensor, index: Tensor, num_nodes: int) -> Tensor:
    """log softmax of ``scores`` within each group of edges sharing ``index`` (the target node):
    scores minus their group's maximum, minus the log of the group's sum of exponentials."""
    top = scores.new_full((num_nodes,), -float("inf"))
    top = top.scatter_reduce(0, index, scores.detach(), reduce="amax", include_self=True)
    shifted = scores - top[index]
    total = scores.new_zeros(num_nodes).index_add(0, index, shifted.exp())
    return shifted - total.log()[index]


def teacher_neighbourhoods(h_t: Tensor, edge_index: Tensor, kernel: str = "distance", **kernel_options) -> Tensor:
    """The teacher's side of ``lsp_loss``: log of each node's distribution over its incoming
    edges (no gradient)."""
    with torch.no_grad():
        scores = edge_scores(h_t.detach(), edge_index, kernel, **kernel_options)
        return edge_log_softmax(scores, edge_index[1], h_t.size(0))


def lsp_loss(h_s: Tensor, h_t: Tensor, edge_index: Tensor, kernel: str = "distance",
             teacher_log_p: Tensor | None = None, **kernel_options) -> Tensor:
    """Mean over the nodes with at least one incoming edge of KL(teacher || student) between the
    two distributions over the node's incoming neighbours, each an edge softmax of
    ``edge_scores``. The widths of ``h_s`` and ``h_t`` may differ; the teacher side gets no
    gradient (``teacher_log_p``: that side already computed, ``teacher_neighbourhoods``). Zero
    (keeping the graph) when there is no edge."""
    if h_s.size(0) != h_t.size(0):
        raise MismatchError(f"lsp: the student's representation has {h_s.size(0)} rows and the teacher's "
                            f"{h_t.size(0)}; both must describe the graph's nodes")
    num_nodes = h_s.size(0)
    if edge_index.numel() == 0:
        return h_s.sum() * 0.0
    if int(edge_index.max()) >= num_nodes:
        raise MismatchError(f"lsp: the edges name node {int(edge_index.max())} but the representations "
                            f"have {num_nodes} rows")
    target = edge_index[1]
    log_p_t = teacher_log_p if teacher_log_p is not None else teacher_neighbourhoods(h_t, edge_index, kernel,
                                                                                      **kernel_options)
    log_p_s = edge_log_softmax(edge_scores(h_s, edge_index, kernel, **kernel_options), target, num_nodes)
    per_edge = log_p_t.exp() * (log_p_t - log_p_s)  # log-probabilities are finite: no 0 * log 0
    has_incoming = torch.zeros(num_nodes, dtype=torch.bool, device=h_s.device)
    has_incoming[target] = True
    return per_edge.sum() / has_incoming.sum()


@register
class LSP(RepresentationDistiller):
    """Yang, Qiu, Song, Tao & Wang, "Distilling Knowledge from Graph Convolutional Networks"
    (CVPR 2020), the local structure preserving module.

    For each paired representation and every edge j -> i of the graph (as given: no self loops
    added), a score g(h_i, h_j) (``kernel``: ``distance`` -||h_i - h_j||_2 / s, the authors'
    code and the default with s = 1; ``linear`` h_i . h_j; ``poly`` (h_i . h_j + c)^d, c 1, d 2;
    ``rbf`` exp(-||h_i - h_j||^2 / (2 sigma^2)), sigma 1); for each node i the distribution over
    its incoming neighbours is the softmax of the scores over i's incoming edges;
    L_lsp = mean over nodes with an incoming edge of KL(LS_teacher(i) || LS_student(i)), averaged
    over the pairs; L = CE(z_s, y) on the labelled rows + weight * L_lsp (weight 1, the paper's;
    G-CRD's re-run uses 100).

    Node level always (also on graph tasks: the batch's nodes and edges), on every node and edge
    of the graph: no row subset. Both sides' distributions live on the same edges, so no
    projector is needed and the widths may differ. Computed per edge: memory O(E d).
    """

    name = "lsp"
    kinds = ("node", "graph")
    uses_edges = True

    def __init__(self, weight: float = 1.0, kernel: str = "distance", s: float = 1.0, c: float = 1.0,
                 d: float = 2.0, sigma: float = 1.0, pairs: Pairing = "last", level: str = "auto"):
        if level == "graph":
            raise ValueError("lsp compares neighbourhoods of nodes: use level='node' (or 'auto'), not 'graph'")
        super().__init__(pairs, level)
        if kernel not in KERNELS:
            raise ValueError(f"lsp: unknown kernel {kernel!r}; valid kernels: {', '.join(KERNELS)}")
        if s <= 0 or sigma <= 0:
            raise ValueError(f"lsp: s and sigma must be positive, got s={s}, sigma={sigma}")
        self.weight, self.kernel = weight, kernel
        self.kernel_options = dict(s=s, c=c, d=d, sigma=sigma)
        self._teacher_memo: dict[tuple, tuple[Tensor, Tensor, Tensor]] = {}

    def make_bridge(self, student_dim: int, teacher_dim: int) -> nn.Module:
        return nn.Identity()  # the distributions are compared, not the representations

    def pair_loss(self, h_s: Tensor, h_t: Tensor, bridge: nn.Module, batch: Batch) -> Tensor:
        edge_index = batch.data.edge_index
        if edge_index.numel() == 0 or h_s.size(0) != h_t.size(0) or int(edge_index.max()) >= h_t.size(0):
            return lsp_loss(h_s, h_t, edge_index, self.kernel, **self.kernel_options)  # its own refusals
        return lsp_loss(h_s, h_t, edge_index, self.kernel, self._teacher_side(h_t, edge_index),
                        **self.kernel_options)

    def _teacher_side(self, h_t: Tensor, edge_index: Tensor) -> Tensor:
        """The teacher's neighbourhood distributions, computed once for as long as the same
        teacher rows and edges come back (full-batch training: every step). The tensors are
        held, so their memory cannot be reused for other values while the key stands; an in-place
        change bumps their version and so the key."""
        key = tuple((t.data_ptr(), tuple(t.shape), t.stride(), t._version) for t in (h_t, edge_index))
        held = self._teacher_memo.get(key)
        if held is None:
            if len(self._teacher_memo) >= len(self.pairs or [None]):  # one entry per pair, the latest ones
                self._teacher_memo.clear()
            held = (h_t, edge_index, teacher_neighbourhoods(h_t, edge_index, self.kernel, **self.kernel_options))
            self._teacher_memo[key] = held
        return held[2]

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        return {"ce": label_loss(student.logits, batch),
                "lsp": self.weight * self.representation_loss(student, teacher, batch)}

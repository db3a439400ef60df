"""KRD: knowledge-reliable distillation from a GNN into an MLP."""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import MismatchError
from ..outputs import Outputs
from .base import Batch, Distiller
from .losses import label_loss, soft_target_kl
from .registry import register

if TYPE_CHECKING:
    from ..data.task import Task


def prediction_entropy(logits: Tensor, objective: str) -> Tensor:
    """Entropy of each row's predicted distribution (nats): of the softmax for ``multiclass``, the
    sum of the per-column Bernoulli entropies for ``binary``."""
    if objective == "binary":
        p = torch.sigmoid(logits)
        per_column = -(p * F.logsigmoid(logits) + (1 - p) * F.logsigmoid(-logits))
        return per_column.sum(dim=-1)
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


@torch.no_grad()
def entropy_shift(teacher: nn.Module, data: Data, *, noise_scale: float = 1.0, samples: int = 5,
                  objective: str = "multiclass") -> Tensor:
    """rho_j = mean over ``samples`` draws of |H(p_t(x + eps))_j - H(p_t(x))_j|, one value per node,
    with eps ~ N(0, sigma^2) on every feature entry and sigma = ``noise_scale`` * std(x) (the
    standard deviation of all entries of the feature matrix, so the scale means the same on binary
    and on normalised features). Small rho: the teacher's knowledge at j is reliable.

    The teacher runs in eval mode without gradients (its mode is restored afterwards); the noise
    comes from torch's global generator, which the trainer seeds."""
    if samples < 1:
        raise ValueError(f"krd: noise samples must be at least 1, got {samples}")
    was_training = teacher.training
    teacher.eval()
    try:
        x = data.x.float()
        clean = prediction_entropy(teacher(data).logits, objective)
        sigma = noise_scale * float(x.std()) if x.numel() > 1 else noise_scale
        noisy = copy.copy(data)  # shares edge_index (and gkd's cached adjacency); x replaced below
        shift = torch.zeros_like(clean)
        for _ in range(samples):
            noisy.x = x + sigma * torch.randn_like(x)
            shift += (prediction_entropy(teacher(noisy).logits, objective) - clean).abs()
    finally:
        teacher.train(was_training)
    return shift / samples


def keep_probability(rho: Tensor, power: float = 1.0) -> Tensor:
    """s_j = 1 - (rho_j / max_k rho_k) ** power: 1 for a node whose prediction entropy does not move
    under noise, 0 for the node it moves most, in between rising with reliability. ``power``
    shapes the curve (larger keeps more nodes). All ones when no node's entropy moves."""
    if power <= 0:
        raise ValueError(f"krd: power must be positive, got {power}")
    top = rho.max() if rho.numel() else rho.new_tensor(0.0)
    if not torch.isfinite(top) or top <= 0:
        return torch.ones_like(rho)
    return (1.0 - (rho / top).clamp(0.0, 1.0).pow(power)).clamp(0.0, 1.0)


@register
class KRD(Distiller):
    """Wu, Lin, Zhao, Huang & Li, "Quantifying the Knowledge in GNNs for Reliable Distillation into
    MLPs" (ICML 2023), knowledge-inspired reliable distillation.

    Once, before training (``prepare``), each node's reliability is measured on the frozen teacher:
    rho_j = mean over ``noise_samples`` draws of |H(p_t(x + eps))_j - H(p_t(x))_j|,
    eps ~ N(0, (noise_scale * std(x))^2), and turned into a keep-probability
    s_j = 1 - (rho_j / max_k rho_k) ** power (see ``entropy_shift`` and ``keep_probability``).
    At every step each edge j -> i (``edge_index[0]`` = j, ``edge_index[1]`` = i; self loops in the
    data are ignored) is kept with probability s_j by a fresh Bernoulli draw from torch's global
    generator, and with P = {(i, i) for every node i} + {(i, j) for every kept edge}:

        L = lam * CE(z_s, y) on labelled nodes
            + (1 - lam) * (1 / |P|) * sum_{(i, j) in P} KL(softmax(z_t[j] / T) || softmax(z_s[i] / T))

    so a student node learns from the teacher at itself and at its reliable in-neighbours. Pairs
    whose teacher node is not ``visible`` are dropped. All of it is O(N + E) on the edge list.

    Following the authors' code: the KL is averaged over pairs (not nodes), with no T^2 factor, and
    the label and distillation terms are weighted lam and 1 - lam. gkd's choices: defaults T 0.8 and
    lam 0.5 (the authors' Cora/GCN settings); the noise scale is relative to the features' standard
    deviation and averaged over several draws (the authors draw once, with std 1 on row-normalised
    features); the curve's ``power`` is fixed (default 1, the authors' starting value), where the
    authors refit it during training, by momentum, to the student's agreement with the teacher, and
    keep every edge for the first 50 epochs. Node tasks only: the edges join nodes of one graph.
    """

    name = "krd"
    kinds = ("node",)
    family = "output"

    def __init__(self, temperature: float = 0.8, lam: float = 0.5, noise_scale: float = 1.0,
                 noise_samples: int = 5, power: float = 1.0):
        super().__init__()
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"krd: lam must lie in [0, 1], got {lam}")
        if temperature <= 0 or noise_scale < 0 or noise_samples < 1 or power <= 0:
            raise ValueError("krd: temperature and power must be positive, noise_scale non-negative and "
                             f"noise_samples at least 1 (got {temperature}, {power}, {noise_scale}, {noise_samples})")
        self.temperature, self.lam = temperature, lam
        self.noise_scale, self.noise_samples, self.power = noise_scale, noise_samples, power
        # per-node rho and keep-probability, set by prepare; not saved with the distiller
        self.register_buffer("reliability", None, persistent=False)
        self.register_buffer("keep_prob", None, persistent=False)

    def prepare(self, *, task: "Task", student: nn.Module, teacher: nn.Module | None,
                teacher_logits: Tensor | None) -> None:
        if task.kind != "node":
            raise MismatchError(
                f"method 'krd' distils along the edges between the nodes of one graph and works on node "
                f"tasks only; task {task.name!r} is a {task.kind} task (use 'kd' or 'glnn' there)"
            )
        if teacher is None:
            raise ValueError("method 'krd' needs the teacher model itself to measure how its predictions "
                             "react to noise; pass teacher= (train_student does)")
        if task.categorical_sizes:
            raise ValueError(f"method 'krd' perturbs node features with Gaussian noise, but task {task.name!r} "
                             f"has integer-coded (categorical) features")
        device = next(iter(teacher.parameters()), torch.empty(0)).device
        data = task.data_on(device)
        rho = entropy_shift(teacher, data, noise_scale=self.noise_scale, samples=self.noise_samples,
                            objective=task.objective)
        self.reliability = rho
        self.keep_prob = keep_probability(rho, self.power)

    def forward(self, student: Outputs, teacher: Outputs | None, batch: Batch) -> dict[str, Tensor]:
        assert teacher is not None
        if self.keep_prob is None:
            raise RuntimeError("krd: no keep-probabilities yet; call prepare(...) first (fit does)")
        zs, zt = student.logits, teacher.logits
        n = zs.size(0)
        if self.keep_prob.numel() != n:
            raise MismatchError(f"krd: reliabilities were computed for {self.keep_prob.numel()} nodes, "
                                f"but the batch has {n}: prepare and train on the same node task")
        src, dst = batch.data.edge_index.to(zs.device)
        off_loop = src != dst
        src, dst = src[off_loop], dst[off_loop]
        kept = torch.bernoulli(self.keep_prob.to(zs.device)[src]).bool()
        nodes = torch.arange(n, device=zs.device)
        rows_s = torch.cat([nodes, dst[kept]])  # the student node that learns
        rows_t = torch.cat([nodes, src[kept]])  # the teacher node it learns from
        seen = batch.visible.to(zs.device)[rows_t]
        rows_s, rows_t = rows_s[seen], rows_t[seen]
        ce = label_loss(zs, batch)
        kl = soft_target_kl(zs[rows_s], zt[rows_t], self.temperature, batch.objective)
        return {"ce": self.lam * ce, "kd": (1.0 - self.lam) * kl}

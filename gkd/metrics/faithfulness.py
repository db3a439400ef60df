"""Faithfulness of a student to its teacher near the data, after Lamb et al., "Faithful Knowledge
Distillation" (2023).

The paper's notions: the *confidence* of a model f at an input x is its softmax probability of one
class, and a student S is *(epsilon, delta)-faithful* to a teacher T at a point x0 when their
confidences differ by at most delta everywhere in the L-infinity ball B(x0, epsilon). The paper
asks two questions, which gkd answers with one number each: do teacher and student disagree near
the points the teacher gets right, and is the student as confident as the teacher there? It
bounds the worst-case gap from below with an attack (PGD) and from above with a certificate
(interval bound propagation, IBP).

gkd's formalisation (its choices, not the paper's):

- the class is fixed once per point: k = the teacher's predicted class at the clean input x0, and
  c_f(x) = softmax(f(x))[k] for both models, so the gap |c_T(x) - c_S(x)| measures whether the
  student is as confident as the teacher *in the teacher's answer*;
- the perturbed input is the node-feature matrix ``data.x``; the graph (edges, weights) stays
  fixed. For graph-free models (gkd's node-level MLP) every node is an input of its own and is
  perturbed on its own. For GNNs the input is the whole matrix X, the ball is
  ||X - X0||_inf <= epsilon over every node at once, and a node's gap is the worst over that joint
  ball (its neighbours' features move too);
- no clipping to a feature domain (features may be binary bags of words or Gaussian): the ball is
  the plain box x0 +- epsilon;
- the faithful share counts only the points the *teacher* classifies correctly (faithfulness to a
  wrong answer is not what a student should be rewarded for);
- the models are judged in eval mode (no dropout, BatchNorm with its running statistics).

Defaults: ``DEFAULT_EPSILON = 0.005`` and ``DEFAULT_DELTA = 0.1`` (gkd's choices). Planetoid
features are binary bags of words with ~1% of entries set (Cora: 18 of 1433 words per paper on
average), so an L-infinity radius r moves a row's L1 mass by up to 1433 r: 0.005 allows ~7, about
a third of the row's own mass (18); 0.05 allows ~72, four times the row, a ball in which PGD finds
a near-total gap at almost every node whatever the student, so that the share no longer tells
students apart. For the gap, 0.1 is ten points of confidence in the teacher's answer. IBP
certifies little at 0.005 for models trained without it; pass a smaller ``epsilon`` to
``ibp_gap`` / ``faithful_share(method="ibp")`` for a certified figure that discriminates.
Gaussian features (the synthetic tasks, unit scale) make 0.005 a very small ball: scale
``epsilon`` to the features' spread there.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from ..errors import MismatchError, UnsupportedModuleError
from ..graph.adjacency import adjacency, with_features
from ..graph.pooling import mean_pool
from ..models.base import LayerStack, eval_mode, row_independent
from ..models.gcn import GCNLayer
from ..models.gin import GINLayer
from ..models.sage import SAGELayer

DEFAULT_EPSILON = 0.005
DEFAULT_DELTA = 0.1
DEFAULT_STEPS = 20

__all__ = [
    "DEFAULT_DELTA", "DEFAULT_EPSILON", "DEFAULT_STEPS", "PerturbedPair", "UnsupportedModuleError", "confidence",
    "confidence_bounds", "confidence_gap", "faithful_share", "gap_ascent", "ibp_gap", "ibp_logit_bounds", "pgd_gap",
]


# --------------------------------------------------------------------------- confidences


def confidence(logits: Tensor, classes: Tensor) -> Tensor:
    """c(x) = softmax(logits)[k], one value per row, k = ``classes`` (one class per row)."""
    return torch.softmax(logits, dim=-1).gather(-1, classes.view(-1, 1)).squeeze(-1)


def confidence_gap(teacher_logits: Tensor, student_logits: Tensor, classes: Tensor | None = None) -> Tensor:
    """|c_T(x) - c_S(x)| per row, the class being ``classes`` (default: the teacher's argmax on
    these logits, i.e. the clean gap when the logits are the clean ones)."""
    if classes is None:
        classes = teacher_logits.argmax(dim=-1)
    return (confidence(teacher_logits, classes) - confidence(student_logits, classes)).abs()


# --------------------------------------------------------------------------- running the models


class PerturbedPair:
    """Teacher and student run on perturbed features, returning the logits of the chosen rows.

    When both models are node-independent, only the chosen rows' features are perturbed (and
    run); otherwise all node features are, and the chosen rows are read off the outputs."""

    def __init__(self, teacher: nn.Module, student: nn.Module, data: Data, rows: Tensor):
        self.teacher, self.student, self.data, self.rows = teacher, student, data, rows
        self.independent = row_independent(teacher) and row_independent(student)
        if not torch.is_floating_point(data.x):
            raise TypeError(
                f"faithfulness perturbs node features, but data.x has dtype {data.x.dtype} "
                f"(categorical features cannot be perturbed in an L-infinity ball)"
            )
        self.x0 = data.x[rows] if self.independent else data.x

    def logits(self, model: nn.Module, x: Tensor) -> Tensor:
        if self.independent:
            return model(Data(x=x, n_id=self.rows, num_nodes=x.size(0))).logits
        return model(with_features(self.data, x)).logits[self.rows]


def _check_classes(teacher_logits: Tensor, student_logits: Tensor) -> None:
    if teacher_logits.shape != student_logits.shape:
        raise MismatchError(
            f"teacher logits {tuple(teacher_logits.shape)} and student logits {tuple(student_logits.shape)} "
            f"differ: faithfulness compares the same rows and classes"
        )


def _as_index(index: Tensor | None, models: tuple[nn.Module, ...], data: Data) -> Tensor:
    """``index`` as a long tensor of rows; ``None``: every row the models output (every node for
    node-level models, every graph for graph-level ones)."""
    device = data.x.device
    if index is None:
        if all(row_independent(m) for m in models):
            return torch.arange(int(data.num_nodes), device=device)
        with eval_mode(models[0]), torch.no_grad():
            return torch.arange(models[0](data).logits.size(0), device=device)
    index = torch.as_tensor(index, device=device)
    if index.dtype == torch.bool:
        return index.nonzero().view(-1)
    return index.long().view(-1)


# --------------------------------------------------------------------------- PGD (lower bound)


def gap_ascent(pair: PerturbedPair, classes: Tensor, delta: Tensor, epsilon: float, steps: int, step_size: float,
            best: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
    """``steps`` signed-gradient ascent steps on the summed gap from ``delta``, each projected
    onto the box [-epsilon, epsilon]; returns the last iterate (detached) and, when ``best`` is
    given, the per-row maximum of ``best`` and the gaps at the points visited before each step.
    Gradients flow to ``delta`` only (``autograd.grad``): no parameter's ``.grad`` is touched."""
    delta = delta.detach()
    for _ in range(steps):
        with torch.enable_grad():
            delta.requires_grad_(True)
            x = pair.x0 + delta
            gap = confidence_gap(pair.logits(pair.teacher, x), pair.logits(pair.student, x), classes)
            grad = torch.autograd.grad(gap.sum(), delta)[0]
        if best is not None:
            best = torch.maximum(best, gap.detach())
        delta = (delta.detach() + step_size * grad.sign()).clamp(-epsilon, epsilon)
    return delta, best


def pgd_gap(teacher: nn.Module, student: nn.Module, data: Data, index: Tensor | None = None,
            epsilon: float = DEFAULT_EPSILON, steps: int = DEFAULT_STEPS, step_size: float | None = None,
            seed: int = 0) -> Tensor:
    """An empirical LOWER bound, per indexed row, on max_{x in B(x0, epsilon)} |c_T(x) - c_S(x)|.

    Projected gradient ascent on the L-infinity ball (signed-gradient steps of ``step_size``,
    default 2.5 * epsilon / steps as in Madry et al., then projection back into the box) from a
    uniform random start drawn with ``seed``, maximising the sum over the indexed rows of the
    gap, k fixed at the teacher's clean prediction. Every visited point (the start included) is
    evaluated and each row keeps the best gap it has seen, so the result is an attained value:
    a lower bound on the true maximum.

    Node features (``data.x``) are perturbed, the graph is fixed. Node-level MLPs: each node is
    independent (its own ball, its own ascent; the sum decouples). GNNs: all node features are
    perturbed jointly, one ascent on the summed objective; a row's value is the best gap it
    reached along that shared path (a valid but possibly looser lower bound than a per-node
    attack). Both models run in eval mode and are restored to their mode afterwards; their
    parameters get no gradient. ``index``: the rows (nodes) to score (default all).
    """
    if epsilon < 0 or steps < 0:
        raise ValueError(f"pgd_gap: epsilon and steps must be non-negative, got {epsilon}, {steps}")
    step_size = 2.5 * epsilon / max(steps, 1) if step_size is None else step_size
    rows = _as_index(index, (teacher, student), data)
    pair = PerturbedPair(teacher, student, data, rows)
    gen = torch.Generator(device=data.x.device).manual_seed(seed)
    with eval_mode(teacher, student):
        with torch.no_grad():
            t0 = pair.logits(teacher, pair.x0)
            _check_classes(t0, pair.logits(student, pair.x0))
        classes = t0.argmax(dim=-1)
        noise = torch.rand(pair.x0.shape, generator=gen, device=pair.x0.device, dtype=pair.x0.dtype)
        start = (2 * noise - 1) * epsilon
        best = torch.zeros(rows.numel(), device=pair.x0.device, dtype=pair.x0.dtype)
        delta, best = gap_ascent(pair, classes, start, epsilon, steps, step_size, best)
        with torch.no_grad():
            x = pair.x0 + delta
            best = torch.maximum(best, confidence_gap(pair.logits(teacher, x), pair.logits(student, x), classes))
    return best


# --------------------------------------------------------------------------- IBP (upper bound)


def _linear(module: nn.Linear, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """Center/radius form: W c + b +- |W| r."""
    center, radius = (hi + lo) / 2, (hi - lo) / 2
    mid = nn.functional.linear(center, module.weight, module.bias)
    rad = nn.functional.linear(radius, module.weight.abs())
    return mid - rad, mid + rad


def _scale(scale: Tensor, shift: Tensor | float, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """Per-channel affine map s * x + t; a negative s swaps the ends."""
    a, b = scale * lo, scale * hi
    return torch.minimum(a, b) + shift, torch.maximum(a, b) + shift


def _batch_norm(module: nn.BatchNorm1d, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    if module.running_mean is None or module.running_var is None:
        raise UnsupportedModuleError(
            f"interval bounds need BatchNorm1d's running statistics (eval mode); {module} tracks none"
        )
    scale = torch.rsqrt(module.running_var + module.eps)
    if module.weight is not None:
        scale = scale * module.weight
    shift = -module.running_mean * scale
    if module.bias is not None:
        shift = shift + module.bias
    return _scale(scale, shift, lo, hi)


def _propagate(data: Data, norm: str, lo: Tensor, hi: Tensor) -> tuple[Tensor, Tensor]:
    """A @ h with non-negative weights A maps [lo, hi] to [A lo, A hi]."""
    adj = adjacency(data, norm)  # type: ignore[arg-type]
    return adj @ lo, adj @ hi


def _module(module: nn.Module, lo: Tensor, hi: Tensor, data: Data) -> tuple[Tensor, Tensor]:
    """Interval image of one module (eval-mode semantics)."""
    if isinstance(module, nn.Linear):
        return _linear(module, lo, hi)
    if isinstance(module, (nn.ReLU, nn.Dropout)):
        return (lo.clamp(min=0), hi.clamp(min=0)) if isinstance(module, nn.ReLU) else (lo, hi)
    if isinstance(module, nn.Identity):
        return lo, hi
    if isinstance(module, nn.BatchNorm1d):
        return _batch_norm(module, lo, hi)
    if isinstance(module, nn.Sequential):
        for child in module:
            lo, hi = _module(child, lo, hi, data)
        return lo, hi
    if isinstance(module, SAGELayer):
        # self_lin(h) + neigh_lin(A h); with A >= 0 the order of A and W gives the same interval
        # (A |W| r = |W| A r), so follow the model's order, which makes epsilon = 0 exact
        s_lo, s_hi = _linear(module.self_lin, lo, hi)
        if module.neigh_lin.out_features < module.neigh_lin.in_features:
            n_lo, n_hi = _propagate(data, "mean", *_linear(module.neigh_lin, lo, hi))
        else:
            n_lo, n_hi = _linear(module.neigh_lin, *_propagate(data, "mean", lo, hi))
        return s_lo + n_lo, s_hi + n_hi
    if isinstance(module, GCNLayer):
        if module.lin.out_features < module.lin.in_features:
            g_lo, g_hi = _propagate(data, "sym", *_linear(module.lin, lo, hi))
        else:
            g_lo, g_hi = _linear(module.lin, *_propagate(data, "sym", lo, hi))
        return g_lo + module.bias, g_hi + module.bias
    if isinstance(module, GINLayer):
        s_lo, s_hi = _scale(1 + module.eps, 0.0, lo, hi)
        a_lo, a_hi = _propagate(data, "sum", lo, hi)
        return _module(module.mlp, s_lo + a_lo, s_hi + a_hi, data)
    raise UnsupportedModuleError(
        f"interval bound propagation has no rule for {type(module).__name__} ({module}); supported: "
        f"Linear, ReLU, Dropout (eval), Identity, BatchNorm1d (eval), Sequential of those, and gkd's "
        f"SAGELayer, GCNLayer, GINLayer inside an MLP/SAGE/GCN/GIN model"
    )


def ibp_logit_bounds(model: nn.Module, data: Data, epsilon: float) -> tuple[Tensor, Tensor]:
    """Certified elementwise bounds (lower, upper) on ``model``'s eval-mode logits, every row,
    over all feature matrices X with ||X - data.x||_inf <= epsilon (one joint ball over the
    nodes; for node-level MLPs that is each node's own ball). Works through gkd's built-in
    LayerStack models made of the modules ``_module`` knows; anything else raises
    ``UnsupportedModuleError`` naming it."""
    if epsilon < 0:
        raise ValueError(f"ibp: epsilon must be non-negative, got {epsilon}")
    if not isinstance(model, LayerStack):
        raise UnsupportedModuleError(
            f"interval bound propagation supports gkd's built-in models (MLP, SAGE, GCN, GIN), "
            f"not {type(model).__name__}"
        )
    if model.encoder is not None:
        raise UnsupportedModuleError("interval bounds need real-valued features; this model embeds categorical ones")
    if not torch.is_floating_point(data.x):
        raise TypeError(f"interval bounds need real-valued features, data.x has dtype {data.x.dtype}")
    with torch.no_grad():
        lo, hi = data.x - epsilon, data.x + epsilon
        for i, layer in enumerate(model.layers):
            lo, hi = _module(layer, lo, hi, data)
            if i < len(model.norms):
                norm = model.norms[i]
                if not isinstance(norm, (nn.Identity, nn.BatchNorm1d)):
                    raise UnsupportedModuleError(
                        f"interval bound propagation has no rule for {type(norm).__name__} "
                        f"(a per-row normalisation couples the channels); use norm=None or 'batch'"
                    )
                lo, hi = _module(norm, lo, hi, data)
                lo, hi = lo.clamp(min=0), hi.clamp(min=0)  # ReLU; dropout is off in eval mode
        if model.head is not None:  # graph level: mean pooling is a non-negative linear map
            lo, hi = _linear(model.head, mean_pool(lo, data), mean_pool(hi, data))
    return lo, hi


def confidence_bounds(lower: Tensor, upper: Tensor, classes: Tensor) -> tuple[Tensor, Tensor]:
    """Bounds on softmax(z)[k] for every z in the box [lower, upper] (log space, stable):
    p_k <= exp(u_k) / (exp(u_k) + sum_{j != k} exp(l_j)) and
    p_k >= exp(l_k) / (exp(l_k) + sum_{j != k} exp(u_j))."""
    k = classes.view(-1, 1)
    u_k, l_k = upper.gather(-1, k), lower.gather(-1, k)
    log_hi = u_k - torch.logsumexp(lower.scatter(-1, k, u_k), dim=-1, keepdim=True)
    log_lo = l_k - torch.logsumexp(upper.scatter(-1, k, l_k), dim=-1, keepdim=True)
    return log_lo.exp().squeeze(-1), log_hi.exp().squeeze(-1)


def ibp_gap(teacher: nn.Module, student: nn.Module, data: Data, index: Tensor | None = None,
            epsilon: float = DEFAULT_EPSILON) -> Tensor:
    """A certified UPPER bound, per indexed row, on max_{x in B(x0, epsilon)} |c_T(x) - c_S(x)|:
    interval bound propagation of both models' logits (``ibp_logit_bounds``), confidence bounds
    of the teacher's clean class k (``confidence_bounds``), then
    max(upper_T - lower_S, upper_S - lower_T) clipped to [0, 1]. Loose for deep or wide models
    (IBP ignores correlations between units) but never below the true maximum. At epsilon = 0
    it equals the clean gap."""
    rows = _as_index(index, (teacher, student), data)
    independent = row_independent(teacher) and row_independent(student)
    inputs = Data(x=data.x[rows], n_id=rows, num_nodes=rows.numel()) if independent else data
    with eval_mode(teacher, student), torch.no_grad():
        t_lo, t_hi = ibp_logit_bounds(teacher, inputs, epsilon)
        s_lo, s_hi = ibp_logit_bounds(student, inputs, epsilon)
        clean = teacher(inputs).logits
        if not independent:
            t_lo, t_hi, s_lo, s_hi, clean = t_lo[rows], t_hi[rows], s_lo[rows], s_hi[rows], clean[rows]
        _check_classes(t_lo, s_lo)
        classes = clean.argmax(dim=-1)
        tl, tu = confidence_bounds(t_lo, t_hi, classes)
        sl, su = confidence_bounds(s_lo, s_hi, classes)
    return torch.maximum(tu - sl, su - tl).clamp(0.0, 1.0)


# --------------------------------------------------------------------------- the share


def faithful_share(teacher: nn.Module, student: nn.Module, data: Data, index: Tensor | None, labels: Tensor,
                   epsilon: float = DEFAULT_EPSILON, delta: float = DEFAULT_DELTA, method: str = "pgd",
                   steps: int = DEFAULT_STEPS, seed: int = 0) -> float:
    """Share of the indexed rows the TEACHER classifies correctly (clean argmax == label) whose
    gap estimate is <= ``delta``: with ``method="pgd"`` an optimistic share (the attack may miss
    worse points), with ``"ibp"`` a certified one (every counted point is provably
    (epsilon, delta)-faithful). ``labels``: one per row of the models' output (e.g. ``data.y``
    or ``task.labels()``), indexed by ``index`` like the logits. NaN when the teacher gets none
    of the indexed rows right."""
    if method not in ("pgd", "ibp"):
        raise ValueError(f"unknown method {method!r}; valid: pgd, ibp")
    rows = _as_index(index, (teacher,), data)
    with eval_mode(teacher), torch.no_grad():
        if row_independent(teacher):
            clean = teacher(Data(x=data.x[rows], n_id=rows, num_nodes=rows.numel())).logits
        else:
            clean = teacher(data).logits[rows]
    y = labels.to(clean.device).view(-1)[rows]
    correct = clean.argmax(dim=-1) == y
    if not bool(correct.any()):
        return math.nan
    chosen = rows[correct]
    if method == "pgd":
        gaps = pgd_gap(teacher, student, data, chosen, epsilon, steps=steps, seed=seed)
    else:
        gaps = ibp_gap(teacher, student, data, chosen, epsilon)
    return float((gaps <= delta).float().mean())

"""Loss pieces shared by the distillation methods."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import Batch


def supervised_loss(logits: Tensor, y: Tensor, objective: str, weight: Tensor | None = None) -> Tensor:
    """Cross-entropy (multiclass) or binary cross-entropy over labelled entries (binary; NaN
    targets are unlabelled, as in OGB). Zero when there is nothing labelled. ``weight``: per-class
    weights of the multiclass loss (the weighted mean, as ``F.cross_entropy(weight=...)``)."""
    if objective == "binary":
        y = y.view_as(logits).float()
        known = ~torch.isnan(y)
        if not known.any():
            return logits.sum() * 0.0
        return F.binary_cross_entropy_with_logits(logits[known], y[known])
    if logits.size(0) == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(logits, y.view(-1).long(), weight=weight)


def label_loss(logits: Tensor, batch: Batch) -> Tensor:
    """The label term every method with one shares: ``supervised_loss`` of ``logits`` on the
    batch's labelled rows against their targets."""
    m = batch.labelled
    return supervised_loss(logits[m], batch.y[m], batch.objective)


def soft_target_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float, objective: str) -> Tensor:
    """KL(teacher_T || student_T), averaged over rows ("batchmean"); for ``binary`` objectives the
    mean over entries of the Bernoulli KL. No T^2 factor here: callers scale as their paper does."""
    if student_logits.size(0) == 0:
        return student_logits.sum() * 0.0
    s, t = student_logits / temperature, teacher_logits.detach() / temperature
    if objective == "binary":
        p = torch.sigmoid(t)
        log_q1, log_q0 = F.logsigmoid(s), F.logsigmoid(-s)
        log_p1, log_p0 = F.logsigmoid(t), F.logsigmoid(-t)
        return (p * (log_p1 - log_q1) + (1 - p) * (log_p0 - log_q0)).mean()
    return F.kl_div(F.log_softmax(s, dim=-1), F.log_softmax(t, dim=-1), reduction="batchmean", log_target=True)


# A large finite negative for masked logits: softmax gives the masked classes zero mass, and a row
# whose classes are all masked becomes uniform (KL 0) instead of NaN, which -inf would give.
MASKED_LOGIT = -1e9


def binary_kl(p_teacher: Tensor, p_student: Tensor, eps: float = 1e-6) -> Tensor:
    """Per-row KL([p_t, 1 - p_t] || [p_s, 1 - p_s]) between two Bernoulli distributions. A
    teacher probability of exactly 0 or 1 (a saturated softmax) contributes 0 log 0 = 0; the
    student's is kept in [eps, 1 - eps] (eps large enough that 1 - eps < 1 in float32)."""
    p_t, p_s = p_teacher.clamp(0.0, 1.0), p_student.clamp(eps, 1 - eps)
    q_t = 1 - p_t
    return torch.xlogy(p_t, p_t) - p_t * p_s.log() + torch.xlogy(q_t, q_t) - q_t * (1 - p_s).log()


def masked_softmax_kl(student_logits: Tensor, teacher_logits: Tensor, mask: Tensor, temperature: float) -> Tensor:
    """Per-row KL(softmax(z_t / T) || softmax(z_s / T)) after setting the ``mask``ed entries of
    both scaled logits to ``MASKED_LOGIT`` (the masked classes drop out of both distributions)."""
    s = (student_logits / temperature).masked_fill(mask, MASKED_LOGIT)
    t = (teacher_logits.detach() / temperature).masked_fill(mask, MASKED_LOGIT)
    log_p_t, log_p_s = F.log_softmax(t, dim=-1), F.log_softmax(s, dim=-1)
    return (log_p_t.exp() * (log_p_t - log_p_s)).sum(dim=-1)


def warmup(epoch: int, epochs: int) -> float:
    """Linear warm-up factor min(epoch / epochs, 1) used by DKD and RLD (``epochs`` 0: none)."""
    return 1.0 if epochs <= 0 else min(epoch / epochs, 1.0)


def one_hot_mask(y: Tensor, num_classes: int) -> Tensor:
    return F.one_hot(y.view(-1).long(), num_classes).bool()


def mean_or_zero(values: Tensor) -> Tensor:
    """Mean of ``values``; zero (keeping the graph) when there are none."""
    return values.mean() if values.numel() else values.sum()


def labelled_targets(student_logits: Tensor, teacher_logits: Tensor, y: Tensor, labelled: Tensor,
                     visible: Tensor, include_unlabelled: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Rows and target classes for methods that split knowledge around a target class (DKD, RLD).

    Labelled rows keep their label. With ``include_unlabelled``, rows that are visible but
    unlabelled (most nodes of a transductive node task) are added with the teacher's predicted
    class as target: on such rows DKD is plain KD decomposed, and RLD equals DKD. Returns the
    student logits, the (detached) teacher logits and the targets, labelled rows first.
    """
    rows = [labelled]
    targets = [y[labelled].view(-1).long()]
    if include_unlabelled:
        extra = visible & ~labelled
        rows.append(extra)
        targets.append(teacher_logits[extra].argmax(dim=-1))
    z_s = torch.cat([student_logits[m] for m in rows])
    z_t = torch.cat([teacher_logits[m] for m in rows]).detach()
    return z_s, z_t, torch.cat(targets)


def contrastive_loss(z_s: Tensor, z_t: Tensor, tau: float) -> Tensor:
    """Mean over rows i of -log softmax(S[i])[i], S = normalise(z_s) normalise(z_t)^T / tau (rows
    L2-normalised): row i's own teacher embedding is the positive, the other rows' negatives."""
    s = F.normalize(z_s, dim=-1) @ F.normalize(z_t, dim=-1).t() / tau
    return F.cross_entropy(s, torch.arange(s.size(0), device=s.device))


def endpoint_class_weights(y: Tensor, labelled: Tensor, ends: Tensor, num_classes: int) -> Tensor:
    """Per-class weights of a label loss taken once per labelled edge endpoint (TGS, LinkDist):
    w_c proportional to n_c / e_c, n_c the labelled nodes of class c (``labelled``, a mask over
    the nodes) and e_c the entries of ``ends`` (the edges' endpoints, sources and targets) that
    are labelled nodes of class c, scaled to sum to ``num_classes``: a well-linked labelled node
    weighs no more than its class's others. A class with no labelled endpoint (it never enters
    the loss) weighs 0; every class 1 when none has one."""
    y = y.view(-1).long()
    nodes = torch.bincount(y[labelled], minlength=num_classes).double()
    ends = ends[labelled[ends]]
    endpoints = torch.bincount(y[ends], minlength=num_classes).double()
    ratio = torch.where(endpoints > 0, nodes / endpoints.clamp_min(1.0), torch.zeros_like(nodes))
    total = ratio.sum()
    weight = num_classes * ratio / total if total > 0 else torch.ones_like(ratio)
    return weight.to(torch.float32)

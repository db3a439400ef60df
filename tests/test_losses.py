"""Each loss against its formula, computed by hand on a tiny example."""
import math

import formulas as ref
import pytest
import torch
from torch_geometric.data import Data

from gkd.distill import Batch, get
from gkd.distill.losses import soft_target_kl, supervised_loss
from gkd.outputs import Outputs

S = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0]])
T = torch.tensor([[1.0, 1.0, -2.0], [0.0, 3.0, 1.0]])
Y = torch.tensor([0, 2])


def _batch(labelled=(True, True), visible=(True, True)):
    return Batch(Data(num_nodes=2), Y, torch.tensor(labelled), torch.tensor(visible))


def test_soft_target_kl_matches_formula():
    temp = 2.0
    expected = sum(ref.kl(ref.softmax(t, temp), ref.softmax(s, temp)) for s, t in zip(S.tolist(), T.tolist())) / 2
    assert soft_target_kl(S, T, temp, "multiclass").item() == pytest.approx(expected, rel=1e-6)


def test_kd_is_ce_plus_t2_kl():
    temp = 4.0
    terms = get("kd", temperature=temp)(Outputs(S), Outputs(T), _batch())
    ce = (ref.ce(S[0].tolist(), 0) + ref.ce(S[1].tolist(), 2)) / 2
    kl = sum(ref.kl(ref.softmax(t, temp), ref.softmax(s, temp)) for s, t in zip(S.tolist(), T.tolist())) / 2
    assert terms["ce"].item() == pytest.approx(ce, rel=1e-6)
    assert terms["kd"].item() == pytest.approx(temp**2 * kl, rel=1e-6)


def test_glnn_weights_label_and_distillation_terms():
    lam = 0.3
    # only node 0 is labelled; the teacher is visible on both nodes
    terms = get("glnn", lam=lam)(Outputs(S), Outputs(T), _batch(labelled=(True, False)))
    kl = sum(ref.kl(ref.softmax(t, 1.0), ref.softmax(s, 1.0)) for s, t in zip(S.tolist(), T.tolist())) / 2
    assert terms["ce"].item() == pytest.approx(lam * ref.ce(S[0].tolist(), 0), rel=1e-6)
    assert terms["kd"].item() == pytest.approx((1 - lam) * kl, rel=1e-6)


def test_none_uses_labelled_rows_only():
    terms = get("none")(Outputs(S), None, _batch(labelled=(False, True)))
    assert terms["ce"].item() == pytest.approx(ref.ce(S[1].tolist(), 2), rel=1e-6)


def test_binary_objective_skips_unlabelled_entries():
    logits = torch.tensor([[0.0, 2.0], [1.0, -1.0]])
    y = torch.tensor([[1.0, float("nan")], [0.0, 1.0]])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    expected = -(math.log(sig(0.0)) + math.log(1 - sig(1.0)) + math.log(sig(-1.0))) / 3
    assert supervised_loss(logits, y, "binary").item() == pytest.approx(expected, rel=1e-6)


def test_binary_soft_target_kl_matches_bernoulli_kl():
    s, t = torch.tensor([[0.5]]), torch.tensor([[-1.0]])
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    p, q = sig(-1.0), sig(0.5)
    expected = p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))
    assert soft_target_kl(s, t, 1.0, "binary").item() == pytest.approx(expected, rel=1e-6)


def test_kl_is_zero_when_student_equals_teacher():
    assert soft_target_kl(T, T, 3.0, "multiclass").item() == pytest.approx(0.0, abs=1e-7)


def test_kd_on_labelled_rows_only():
    terms = get("kd", unlabelled=False)(Outputs(S), Outputs(T), _batch(labelled=(True, False)))
    kl = ref.kl(ref.softmax(T[0].tolist(), 4.0), ref.softmax(S[0].tolist(), 4.0))
    assert terms["kd"].item() == pytest.approx(16 * kl, rel=1e-6)


def test_binary_kl_by_hand_and_finite_where_a_softmax_saturates():
    from gkd.distill.losses import binary_kl

    p_t, p_s = torch.tensor([0.8, 1.0, 0.0, 1.0]), torch.tensor([0.5, 0.5, 0.25, 1.0])
    expected = [0.8 * math.log(0.8 / 0.5) + 0.2 * math.log(0.2 / 0.5), math.log(2.0), math.log(1 / 0.75), 0.0]
    got = binary_kl(p_t, p_s)
    assert torch.isfinite(got).all()  # float32 1 - 1e-8 == 1: an old clamp let 0 * log 0 through as NaN
    assert got.tolist() == pytest.approx(expected, abs=2e-5)
    saturated = torch.tensor([[200.0, 0.0]]).softmax(-1)[:, 0]  # exactly 1.0 in float32
    student = torch.tensor([0.3], requires_grad=True)
    binary_kl(saturated, student).sum().backward()
    assert saturated.item() == 1.0 and torch.isfinite(student.grad).all()

"""Relational KD: distance and angle potentials against hand values."""
import math

import pytest
import torch

from gkd.distill import Batch, get
from gkd.distill.rkd import pair_distances, rkd_terms, triplet_angles
from gkd.outputs import Outputs


def test_pair_distances_are_divided_by_their_mean():
    h = torch.tensor([[0.0], [1.0], [3.0]])
    # distances 1, 3, 2 (each twice over ordered pairs): mean 2
    expected = torch.tensor([[0, 1, 3], [1, 0, 2], [3, 2, 0]]) / 2.0
    assert torch.allclose(pair_distances(h), expected)


def test_triplet_angles_by_hand():
    h = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    a = triplet_angles(h)
    assert a[0, 1, 2].item() == pytest.approx(0.0, abs=1e-7)  # right angle at the origin
    assert a[1, 0, 2].item() == pytest.approx(math.cos(math.pi / 4), rel=1e-6)  # 45 degrees at (1, 0)
    assert a[1, 0, 0].item() == pytest.approx(1.0)


def _unit_difference_angles(h):
    e = torch.nn.functional.normalize(h.unsqueeze(0) - h.unsqueeze(1), dim=-1)  # the definition, n^3 d
    return e @ e.transpose(1, 2)


def test_triplet_angles_equal_the_unit_differences_with_gradients_and_repeated_rows():
    torch.manual_seed(0)
    h = (torch.randn(40, 16) + 3.0).relu()
    h[7] = h[3]  # a repeated row: its difference has no direction, its cosines are 0
    fast = triplet_angles(h)
    assert torch.allclose(fast, _unit_difference_angles(h), atol=2e-5)
    assert fast[3, 7].abs().max().item() == 0.0 and fast[7, :, 3].abs().max().item() == 0.0
    # the gradient against finite differences (float64; the unit-difference form's own gradient is
    # off there by rounding: normalize's 1 / eps slope at the zero differences i = j)
    small = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(6, 6, 6, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: (triplet_angles(x) * weights).sum(), (small,), rtol=1e-6, atol=1e-8)


def test_rkd_ignores_scale_and_rotation_but_not_shape():
    torch.manual_seed(0)
    t = torch.randn(10, 4)
    rotation, _ = torch.linalg.qr(torch.randn(4, 4))
    distance, angle = rkd_terms(3.0 * t @ rotation, t)
    assert distance.item() == pytest.approx(0.0, abs=1e-6) and angle.item() == pytest.approx(0.0, abs=1e-6)
    distance, angle = rkd_terms(torch.randn(10, 4), t)
    assert distance.item() > 0.01 and angle.item() > 0.01


def test_rkd_total_weights_the_terms_and_keeps_widths_apart():
    torch.manual_seed(0)
    rkd = get("rkd", distance_weight=2.0, angle_weight=3.0)
    h_s, h_t = torch.randn(6, 3, requires_grad=True), torch.randn(6, 5)
    s = Outputs(torch.randn(6, 2), pooled=h_s)
    t = Outputs(torch.randn(6, 2), pooled=h_t)
    rkd.build(s, t, graph_task=True)
    ones = torch.ones(6, dtype=torch.bool)
    terms = rkd(s, t, Batch(None, torch.zeros(6, dtype=torch.long), ones, ones))
    distance, angle = rkd_terms(h_s, h_t)
    assert terms["rkd"].item() == pytest.approx(2.0 * distance.item() + 3.0 * angle.item(), rel=1e-6)
    terms["rkd"].backward()
    assert h_s.grad.abs().sum() > 0

"""The sparse-input first layer: nn.Linear's results and gradients, on the inputs it takes."""
import torch

from gkd.models import sparse_input
from gkd.models.sparse_input import SparseInputLinear


def _bag_of_words(n=50, f=40, density=0.05):
    torch.manual_seed(0)
    return (torch.rand(n, f) < density).float()


def test_repeated_sparse_input_gives_the_dense_layer_and_its_gradients(monkeypatch):
    x = _bag_of_words()
    torch.manual_seed(1)
    layer = SparseInputLinear(40, 8)
    dense = torch.nn.Linear(40, 8)
    dense.load_state_dict(layer.state_dict())
    used = []
    real = sparse_input._SparseLinear.apply
    monkeypatch.setattr(sparse_input._SparseLinear, "apply", lambda *a: used.append(1) or real(*a))
    for _ in range(3):  # the first pass is dense; the same features again go through CSR
        layer.zero_grad()
        dense.zero_grad()
        out, expected = layer(x), dense(x)
        weights = torch.randn_like(out)
        (out * weights).sum().backward()
        (expected * weights).sum().backward()
        assert torch.allclose(out, expected, atol=1e-6)
        assert torch.allclose(layer.weight.grad, dense.weight.grad, atol=1e-5)
        assert torch.allclose(layer.bias.grad, dense.bias.grad, atol=1e-5)
    assert len(used) == 2


def _recording_layer(monkeypatch):
    """A layer whose sparse products are recorded (one entry per product) instead of run."""
    used = []
    monkeypatch.setattr(sparse_input._SparseLinear, "apply", lambda *a: used.append(1))
    return SparseInputLinear(40, 8), used


def test_dense_changed_or_perturbed_inputs_take_the_dense_path(monkeypatch):
    layer, used = _recording_layer(monkeypatch)
    dense_x = torch.randn(50, 40)
    layer(dense_x), layer(dense_x)  # too dense
    x = _bag_of_words()
    layer(x)
    x.mul_(2.0)  # changed in place: a new version, seen once
    layer(x)
    delta = torch.zeros_like(x, requires_grad=True)
    layer(x + delta), layer(x + delta)  # a perturbation search: the input needs a gradient
    assert used == []
    layer(x)  # the same, unchanged features a second time
    assert used == [1]


def test_features_seen_again_between_other_inputs_go_sparse(monkeypatch):
    layer, used = _recording_layer(monkeypatch)
    x = _bag_of_words()
    layer(x)
    layer(x[:10])  # evaluation on some rows between two training passes
    layer(x)
    assert used == [1]


def test_new_row_blocks_at_a_reused_address_stay_dense(monkeypatch):
    layer, used = _recording_layer(monkeypatch)
    x = _bag_of_words()
    for _ in range(4):  # as prediction on a block of rows does: a fresh tensor each call, often at the same address
        layer(x[:30].clone())
    assert used == []

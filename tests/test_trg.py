"""TRG's three relational terms against hand values, and a CNN teacher -> ViT student pair."""
import math

import pytest
import torch

from gkd import ModelSpec, TrainConfig
from gkd.data.images import ImageSet
from gkd.data.task import Task
from gkd.distill import get
from gkd.distill.trg import global_temperature, inner_loss, local_loss
from gkd.errors import MismatchError
from gkd.train import train_student, train_teacher


def test_inner_loss_by_hand():
    s = torch.tensor([[[1.0], [0.0]]])  # one image, two tokens, width 1
    t = torch.zeros(1, 2, 1)
    a = math.e / (math.e + 1)  # softmax([1, 0]) = (a, 1 - a); the teacher's map is 1/2 everywhere
    expected = 2 * (a - 0.5) ** 2 / 4
    assert inner_loss(s, t).item() == pytest.approx(expected, rel=1e-6)


def test_local_loss_by_hand():
    t = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 2.0]])  # normalised: the last two coincide
    sigma = 1.0

    def dist(p, i):  # softmax of the Gaussian weights over node i's two neighbours
        w = [math.exp(-sum((a - b) ** 2 for a, b in zip(p[i], p[j])) / (2 * sigma)) for j in range(3) if j != i]
        z = sum(math.exp(v) for v in w)
        return [math.exp(v) / z for v in w]

    t_n = [[1, 0], [0, 1], [-1, 0]]
    s_n = [[1, 0], [0, 1], [0, 1]]
    kl = [sum(p * math.log(p / q) for p, q in zip(dist(t_n, i), dist(s_n, i))) for i in range(3)]
    # each token's two neighbours are the other two (k = 2), so the order within a row is the
    # teacher's nearest first; KL is order-free
    assert local_loss(s, t, k=2, sigma=sigma).item() == pytest.approx(sum(kl) / 3, rel=1e-5)
    assert local_loss(t, t, k=2, sigma=sigma).item() == pytest.approx(0.0, abs=1e-7)


def test_global_temperature_falls_then_stays():
    assert global_temperature(0, 0.5, 0.1, 10) == 0.5
    assert global_temperature(5, 0.5, 0.1, 10) == pytest.approx(0.3)
    assert global_temperature(50, 0.5, 0.1, 10) == pytest.approx(0.1)


def _toy_images(n=48, size=8, seed=0) -> Task:
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 60, (n, 1, size, size), generator=g, dtype=torch.uint8)
    for c in range(3):  # a class is a bright band at its own rows
        images[labels == c, :, 2 * c:2 * c + 2, :] = 250
    split = {"train": torch.arange(0, 30), "valid": torch.arange(30, 39), "test": torch.arange(39, n)}
    return Task("toy-images", "image", ImageSet(images, labels, torch.tensor([0.3]), torch.tensor([0.3])), split, 3)


def test_trg_total_adds_its_weighted_terms_and_trains_a_vit_from_a_cnn():
    task = _toy_images()
    config = TrainConfig(epochs=3, lr=0.01, batch_size=16, patience=5)
    teacher = train_teacher(task, ModelSpec("resnet", hidden=8, num_layers=1), config, seed=0, use_cache=False)
    result = train_student(task, teacher, ModelSpec("vit", hidden=16, num_layers=1), "trg", config, seed=0)
    trg = result.distiller
    assert trg.projector.in_features == 16 and trg.projector.out_features == 32  # ViT width -> ResNet's 4 x 8
    for key in ("ce", "kd", "inner", "local", "global"):
        assert math.isfinite(result.history[0][key])
    # the projector learns: its gradient from the relational terms is non-zero
    x = task.data.batch(torch.arange(8))
    student, t_out = result.model.train(), teacher.model(x)
    trg.zero_grad()
    terms = trg(student(x), t_out, _batch(x, task.data.labels[:8]))
    (terms["inner"] + terms["local"] + terms["global"]).backward()
    assert trg.projector.weight.grad.abs().sum() > 0


def test_trg_weights_scale_their_terms():
    torch.manual_seed(0)
    task = _toy_images()
    teacher = ModelSpec("resnet", hidden=8, num_layers=1).build(task).eval()
    student = ModelSpec("resnet", hidden=4, num_layers=1).build(task)
    x = task.data.batch(torch.arange(8))
    values = {}
    for scale in (1.0, 2.0):
        trg = get("trg", alpha=scale, beta=scale, gamma=scale, kd_weight=scale, m=None)
        trg.build(student(x), teacher(x))
        torch.manual_seed(1)
        trg.projector.reset_parameters()
        values[scale] = {k: v.item() for k, v in trg(student(x), teacher(x), _batch(x, task.data.labels[:8])).items()}
    for key in ("kd", "inner", "local", "global"):
        assert values[2.0][key] == pytest.approx(2 * values[1.0][key], rel=1e-5)


def test_trg_anneals_tau_over_the_run_budget_unless_told(monkeypatch):
    import gkd.distill.trg as trg_module

    seen = []
    monkeypatch.setattr(trg_module, "contrastive_loss", lambda s, t, tau: seen.append(tau) or s.sum() * 0)
    torch.manual_seed(0)
    task = _toy_images()
    teacher = ModelSpec("resnet", hidden=8, num_layers=1).build(task).eval()
    student = ModelSpec("resnet", hidden=4, num_layers=1).build(task)
    x = task.data.batch(torch.arange(8))
    for options in ({}, {"anneal_epochs": 40}):
        trg = get("trg", tau_start=0.5, tau_end=0.1, **options)
        trg.build(student(x), teacher(x))
        trg(student(x), teacher(x), _batch(x, task.data.labels[:8], epoch=10, epochs=20))
    assert seen == [pytest.approx(0.3), pytest.approx(0.4)]


def test_trg_refuses_a_node_task():
    from gkd.data import load

    task = load("synthetic")
    teacher = ModelSpec("sage", hidden=8).build(task)
    student = ModelSpec("mlp", hidden=8).build(task)
    with pytest.raises(MismatchError, match="image tokens"):
        get("trg").prepare(task=task, student=student, teacher=teacher, teacher_logits=None)


def _batch(x, y, epoch: int = 0, epochs: int = 0):
    from gkd.distill import Batch

    ones = torch.ones(len(y), dtype=torch.bool)
    return Batch(x, y, ones, ones, epoch=epoch, epochs=epochs)

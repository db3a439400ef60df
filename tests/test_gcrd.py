"""G-CRD: the contrastive loss against its formula, its gradients, row sampling, and training."""
import copy
import math

import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.distill import Batch, get
from gkd.distill import gcrd as gcrd_module
from gkd.distill.gcrd import GCRD, ProjectionHeads, contrastive_loss
from gkd.distill.representation import sample_rows
from gkd.outputs import Outputs


def _distiller(n, d_s=8, d_t=12, classes=3, **options):
    """A built G-CRD with example outputs: student and teacher hidden layers of n rows."""
    torch.manual_seed(0)
    h_s = torch.randn(n, d_s, requires_grad=True)
    h_t = torch.randn(n, d_t, requires_grad=True)
    student = Outputs(torch.randn(n, classes, requires_grad=True), hidden=[h_s])
    teacher = Outputs(torch.randn(n, classes), hidden=[h_t])
    distiller = get("gcrd", **options)
    distiller.build(student, teacher)
    batch = Batch(Data(num_nodes=n), torch.arange(n) % classes, torch.ones(n, dtype=torch.bool),
                  torch.ones(n, dtype=torch.bool))
    return distiller, student, teacher, batch


def test_contrastive_loss_matches_formula():
    z_s = torch.tensor([[1.0, 0.0], [0.6, 0.8], [-1.0, 1.0]])
    z_t = torch.tensor([[2.0, 1.0], [0.0, 1.0], [-3.0, 0.5]])
    tau = 0.5

    def unit(v):
        norm = math.sqrt(sum(x * x for x in v))
        return [x / norm for x in v]

    s_rows, t_rows = [unit(v) for v in z_s.tolist()], [unit(v) for v in z_t.tolist()]
    expected = 0.0
    for i, a in enumerate(s_rows):
        sims = [sum(x * y for x, y in zip(a, b)) / tau for b in t_rows]
        expected += -(sims[i] - math.log(sum(math.exp(v) for v in sims)))
    expected /= 3
    assert contrastive_loss(z_s, z_t, tau).item() == pytest.approx(expected, rel=1e-6)


def test_terms_are_weighted_ce_and_contrastive():
    distiller, student, teacher, batch = _distiller(20, weight=0.3)
    torch.manual_seed(1)
    terms = distiller(student, teacher, batch)
    assert set(terms) == {"ce", "crd"}
    heads = distiller.bridges[0]
    torch.manual_seed(1)
    z_s, z_t = heads(student.hidden[0], teacher.hidden[0])
    assert terms["crd"].item() == pytest.approx(0.3 * contrastive_loss(z_s, z_t, 0.075).item(), rel=1e-5)
    assert isinstance(heads, ProjectionHeads)
    assert heads.student[0].out_features == heads.teacher[0].out_features == 256
    assert heads.student[0].in_features == 8 and heads.teacher[0].in_features == 12


def test_unrelated_features_give_about_log_n_and_matched_ones_train_lower():
    torch.set_num_threads(1)
    n = 64
    distiller, student, teacher, batch = _distiller(n, d_s=16, d_t=16)
    unrelated = distiller.representation_loss(student, teacher, batch).item()
    assert unrelated == pytest.approx(math.log(n), rel=0.15)

    same = Outputs(teacher.logits, hidden=[teacher.hidden[0].detach()])
    optimiser = torch.optim.Adam(distiller.parameters(), lr=0.01)
    for _ in range(30):
        loss = distiller.representation_loss(same, teacher, batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    matched = distiller.representation_loss(same, teacher, batch).item()
    assert matched < 0.5 * math.log(n)


def test_gradients_reach_both_heads_and_the_student_but_not_the_teacher():
    distiller, student, teacher, batch = _distiller(16)
    total, _ = distiller.loss(student, teacher, batch)
    total.backward()
    heads = distiller.bridges[0]
    for head in (heads.student, heads.teacher):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert student.hidden[0].grad is not None and student.hidden[0].grad.abs().sum() > 0
    assert teacher.hidden[0].grad is None  # the teacher's representation is detached


def test_sampling_bounds_the_similarity_matrix_and_is_seeded(monkeypatch):
    shapes = []

    def recording(z_s, z_t, tau):
        shapes.append((z_s.size(0), z_t.size(0)))
        return contrastive_loss(z_s, z_t, tau)

    monkeypatch.setattr(gcrd_module, "contrastive_loss", recording)
    distiller, student, teacher, batch = _distiller(50, max_nodes=16)
    values = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        values.append(distiller(student, teacher, batch)["crd"].item())
    assert shapes == [(16, 16)] * 3
    assert values[0] == values[1] != values[2]

    # fewer rows than max_nodes: every row, no sampling
    assert sample_rows(10, 16) is None
    torch.manual_seed(0)
    first = sample_rows(50, 16)
    torch.manual_seed(0)
    assert torch.equal(first, sample_rows(50, 16)) and first.unique().numel() == 16
    gen = torch.Generator().manual_seed(5)
    again = torch.Generator().manual_seed(5)
    assert torch.equal(sample_rows(50, 16, generator=gen), sample_rows(50, 16, generator=again))


def test_only_visible_rows_are_contrasted(monkeypatch):
    shapes = []
    monkeypatch.setattr(gcrd_module, "contrastive_loss",
                        lambda z_s, z_t, tau: shapes.append(z_s.size(0)) or contrastive_loss(z_s, z_t, tau))
    distiller, student, teacher, batch = _distiller(10)
    distiller.node_rows = True  # as prepare() sets for node tasks
    batch.visible = torch.arange(10) < 6
    distiller(student, teacher, batch)
    assert shapes == [6]


def test_rejects_bad_options():
    with pytest.raises(ValueError):
        get("gcrd", tau=0.0)
    with pytest.raises(ValueError):
        get("gcrd", max_nodes=1)


class _Recording(GCRD):
    """G-CRD that remembers its heads as built, before any training."""

    def prepare(self, **kwargs):
        super().prepare(**kwargs)
        self.initial = copy.deepcopy(self.bridges.state_dict())


def test_trains_end_to_end_and_updates_the_heads():
    torch.set_num_threads(1)
    task = gkd.data.load("synthetic", seed=0)
    teacher = gkd.train_teacher(task, ModelSpec("sage", hidden=32), TrainConfig(epochs=20))
    distiller = _Recording()
    student = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=32), distiller, TrainConfig(epochs=5))
    assert {"ce", "crd"} <= set(student.history[0])
    assert all(math.isfinite(h["crd"]) for h in student.history)
    after = distiller.bridges.state_dict()
    params = [k for k, _ in distiller.bridges.named_parameters()]
    assert any(k.startswith("0.student") for k in params) and any(k.startswith("0.teacher") for k in params)
    for key in params:
        assert not torch.equal(after[key], distiller.initial[key]), f"{key} was not trained"


def test_graph_level_pairs_pooled_representations():
    torch.set_num_threads(1)
    task = gkd.data.load("synthetic-graphs")
    config = TrainConfig(epochs=1, batch_size=64)
    teacher = gkd.train_teacher(task, ModelSpec("gin", hidden=16), config)
    distiller = get("gcrd")
    student = gkd.train_student(task, teacher, ModelSpec("gin", hidden=8), distiller, config)
    assert distiller.level == "graph"
    assert math.isfinite(student.history[0]["crd"]) and student.history[0]["crd"] > 0


def test_rows_sampled_follow_the_stated_rule():
    distiller = get("gcrd")
    assert distiller.sample_rows_for(300) == 300  # a small batch: every row
    assert distiller.sample_rows_for(600) == 512  # a fifth would be 120: never fewer than all_rows
    assert distiller.sample_rows_for(2708) == 541  # Cora: a fifth
    assert distiller.sample_rows_for(169_343) == 8192  # ogbn-arxiv: the authors' bound
    every = get("gcrd", share=1.0, max_nodes=1000)
    assert every.sample_rows_for(2708) == 1000 and every.sample_rows_for(700) == 700
    with pytest.raises(ValueError, match="share"):
        get("gcrd", share=0.0)

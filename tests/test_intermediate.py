"""Intermediate-layer family: layer pairing, projectors, FitNet, the projector recipe (srd) and
combinations of methods."""
import math

import pytest
import torch
from torch import nn
from torch_geometric.data import Data

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.distill import Batch
from gkd.distill.representation import resolve_pairs, spaced_pairs
from gkd.distill.srd import singular_values
from gkd.errors import MismatchError, UnknownNameError
from gkd.outputs import Outputs


def _batch(n: int, y=None) -> Batch:
    ones = torch.ones(n, dtype=torch.bool)
    return Batch(Data(num_nodes=n), torch.zeros(n, dtype=torch.long) if y is None else y, ones, ones)


def _built(name: str, student: Outputs, teacher: Outputs, **options):
    distiller = gkd.distill.get(name, **options)
    distiller.build(student, teacher)
    return distiller


# ---------------------------------------------------------------- pairing

def test_spaced_pairs_cover_every_student_layer_at_the_same_relative_depth():
    assert spaced_pairs(4, 2) == [(1, 0), (3, 1)]
    assert spaced_pairs(3, 2) == [(1, 0), (2, 1)]
    assert spaced_pairs(2, 2) == [(0, 0), (1, 1)]
    assert spaced_pairs(6, 3) == [(1, 0), (3, 1), (5, 2)]


def test_resolve_pairs_by_default_index_and_name():
    assert resolve_pairs("last", 3, 1) == [(2, 0)]
    assert resolve_pairs([(-2, 0), (2, -1)], 3, 2) == [(1, 0), (2, 1)]
    assert resolve_pairs([("conv2", "lin1")], 3, 2, ["conv1", "conv2", "conv3"], ["lin0", "lin1"]) == [(1, 1)]
    with pytest.raises(MismatchError, match="no hooked layer named 'conv9'.*conv1, conv2, conv3"):
        resolve_pairs([("conv9", 0)], 3, 2, ["conv1", "conv2", "conv3"])
    with pytest.raises(MismatchError, match="3 hidden layers; layer index 5"):
        resolve_pairs([(5, 0)], 3, 2)
    with pytest.raises(MismatchError, match="exposes no hidden layers"):
        resolve_pairs("last", 3, 0)
    with pytest.raises(ValueError, match="unknown pairing 'first'"):
        resolve_pairs("first", 3, 2)


def test_hooked_model_layers_pair_by_name():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = nn.Linear(4, 6), nn.Linear(6, 5), nn.Linear(5, 3)

        def forward(self, x, edge_index):
            return self.out(torch.relu(self.b(torch.relu(self.a(x)))))

    teacher = gkd.models.HookedModel(Net(), hidden=["a", "b"])
    student = gkd.models.MLP(4, 8, 3, num_layers=2)
    data = Data(x=torch.randn(7, 4), edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=7)
    fitnet = gkd.distill.get("fitnet", pairs=[("a", 0)])
    fitnet.build(student(data), teacher(data), teacher_names=teacher.hidden_names)
    assert fitnet.pairs == [(0, 0)] and fitnet.bridges[0].weight.shape == (6, 8)


def test_node_sets_must_match():
    same = Outputs(torch.zeros(5, 2), [torch.zeros(5, 4)])
    fitnet = _built("fitnet", same, Outputs(torch.zeros(5, 2), [torch.zeros(5, 4)]))
    with pytest.raises(MismatchError, match="5 rows and the teacher's 3"):
        fitnet.paired(Outputs(torch.zeros(5, 2), [torch.zeros(5, 4)]), Outputs(torch.zeros(5, 2), [torch.zeros(3, 4)]))
    with pytest.raises(MismatchError, match="pooled graph representations"):
        _built("srd", Outputs(torch.zeros(5, 2), [torch.zeros(5, 4)]), Outputs(torch.zeros(5, 2), [torch.zeros(5, 4)]),
               level="graph")


def test_loss_before_prepare_is_a_clear_error():
    out = Outputs(torch.zeros(3, 2), [torch.zeros(3, 4)])
    with pytest.raises(RuntimeError, match="call prepare"):
        gkd.distill.get("fitnet")(out, out, _batch(3))


# ---------------------------------------------------------------- losses against hand values

def test_fitnet_is_ce_plus_mse_of_the_projected_student():
    h_s = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    h_t = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    fitnet = _built("fitnet", Outputs(logits, [h_s]), Outputs(logits, [h_t]), weight=0.5)
    with torch.no_grad():
        fitnet.bridges[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]))
        fitnet.bridges[0].bias.zero_()
    terms = fitnet(Outputs(logits, [h_s]), Outputs(logits, [h_t]), _batch(2, torch.tensor([0, 1])))
    # projected student [[1,0,0],[0,0,2]]; squared errors 0,1,0 / 0,0,1 -> mean 2/6
    assert terms["hint"].item() == pytest.approx(0.5 * 2 / 6)
    ce = (math.log(1 + math.exp(-2)) + math.log(1 + math.exp(-1))) / 2
    assert terms["ce"].item() == pytest.approx(ce, rel=1e-6)


def test_fitnet_needs_no_projector_for_equal_widths():
    out = Outputs(torch.zeros(4, 2), [torch.randn(4, 3)])
    assert isinstance(_built("fitnet", out, out).bridges[0], nn.Identity)


def test_srd_feature_term_is_log_sum_of_fourth_powers_of_standardised_differences():
    h_s = torch.tensor([[1.0], [3.0]])
    h_t = torch.tensor([[0.0, 2.0], [4.0, 2.0]])
    logits = torch.zeros(2, 2)
    srd = _built("srd", Outputs(logits, [h_s]), Outputs(logits, [h_t]), kd_weight=0.0)
    with torch.no_grad():
        srd.bridges[0].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        srd.bridges[0].bias.copy_(torch.tensor([5.0, 0.0]))
    terms = srd(Outputs(logits, [h_s]), Outputs(logits, [h_t]), _batch(2))
    # projected [[6,-1],[8,-3]] -> batch-standardised (biased variance 1, eps 1e-4): [[-1,1],[1,-1]] / sqrt(1+1e-4)
    # teacher [[0,2],[4,2]]: column 0 (mean 2, variance 4) -> [-2, 2] / sqrt(4+1e-4); column 1 constant -> 0
    z, w = 1 / math.sqrt(1 + 1e-4), 2 / math.sqrt(4 + 1e-4)
    diffs = [-z + w, z - 0.0, z - w, -z - 0.0]
    assert terms["feat"].item() == pytest.approx(2.0 * math.log(sum(d ** 4 for d in diffs)), rel=1e-5)
    assert terms["kd"].item() == 0.0


def test_srd_ablations_mse_and_no_normalisation():
    h_s, h_t = torch.tensor([[1.0], [3.0]]), torch.tensor([[0.0], [4.0]])
    logits = torch.zeros(2, 2)
    srd = _built("srd", Outputs(logits, [h_s]), Outputs(logits, [h_t]), normalise=False, distance="mse",
                 feat_weight=1.0)
    with torch.no_grad():
        srd.bridges[0].weight.fill_(2.0)
        srd.bridges[0].bias.zero_()
    terms = srd(Outputs(logits, [h_s]), Outputs(logits, [h_t]), _batch(2))
    assert terms["feat"].item() == pytest.approx(((2 - 0) ** 2 + (6 - 4) ** 2) / 2)
    with pytest.raises(ValueError, match="unknown distance 'l1'.*logsum, mse"):
        gkd.distill.get("srd", distance="l1")


def test_gradients_reach_projector_and_student_not_teacher():
    h_s = torch.randn(6, 4, requires_grad=True)
    h_t = torch.randn(6, 5, requires_grad=True)
    logits = torch.randn(6, 3, requires_grad=True)
    for name in ("fitnet", "srd"):
        distiller = _built(name, Outputs(logits, [h_s]), Outputs(logits, [h_t]))
        total, _ = distiller.loss(Outputs(logits, [h_s]), Outputs(logits.detach(), [h_t]), _batch(6))
        total.backward()
        assert distiller.bridges[0].weight.grad.abs().sum() > 0
        assert h_s.grad.abs().sum() > 0 and h_t.grad is None
        h_s.grad = None


# ---------------------------------------------------------------- the collapse the paper warns about

def _projector_singular_values(normalise: bool, seed: int) -> tuple[float, float]:
    """Train a small student with CE + the srd feature term (plain SGD, no weight decay) toward
    fixed teacher features, and return the projector's mean singular value before and after.
    CE on separable classes makes the student's features grow; without normalisation the
    projector must shrink to keep matching the teacher."""
    g = torch.Generator().manual_seed(seed)
    n, classes = 256, 4
    y = torch.arange(n) % classes
    x = (torch.randn(classes, 16, generator=g) * 2)[y] + torch.randn(n, 16, generator=g)
    h_t = torch.relu(torch.randn(classes, 24, generator=g)[y] + 0.3 * torch.randn(n, 24, generator=g))
    torch.manual_seed(seed)
    body, head = nn.Linear(16, 32), nn.Linear(32, classes)
    srd = _built("srd", Outputs(torch.zeros(n, classes), [torch.zeros(n, 32)]), Outputs(torch.zeros(n, classes), [h_t]),
                 normalise=normalise, kd_weight=0.0)
    optimiser = torch.optim.SGD([*body.parameters(), *head.parameters(), *srd.parameters()], lr=0.05)
    before = singular_values(srd.bridges[0]).mean().item()
    teacher = Outputs(torch.zeros(n, classes), [h_t])
    for _ in range(400):
        h = torch.relu(body(x))
        loss, _ = srd.loss(Outputs(head(h), [h]), teacher, _batch(n, y))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return before, singular_values(srd.bridges[0]).mean().item()


@pytest.mark.parametrize("seed", [0, 1])
def test_projector_collapses_without_normalisation_and_not_with_it(seed):
    before, after = _projector_singular_values(normalise=False, seed=seed)
    assert after < 0.9 * before
    before, after = _projector_singular_values(normalise=True, seed=seed)
    assert after > 1.1 * before


# ---------------------------------------------------------------- combinations

def test_combination_sums_terms_and_counts_shared_ones_once():
    h_s, h_t = torch.randn(4, 3), torch.randn(4, 5)
    s_logits, t_logits = torch.randn(4, 2), torch.randn(4, 2)
    student, teacher = Outputs(s_logits, [h_s]), Outputs(t_logits, [h_t])
    combo = gkd.distill.get("glnn+srd", glnn={"lam": 0.3}, srd={"feat_weight": 1.0})
    assert combo.name == "glnn+srd" and combo.needs_teacher_hidden
    combo.parts[1].build(student, teacher)
    batch = _batch(4, torch.tensor([0, 1, 1, 0]))
    terms = combo(student, teacher, batch)
    glnn_terms, srd_terms = combo.parts[0](student, teacher, batch), combo.parts[1](student, teacher, batch)
    assert set(terms) == {"ce", "kd", "feat"}
    assert terms["ce"].item() == pytest.approx(glnn_terms["ce"].item())  # GLNN's weighting, counted once
    assert terms["kd"].item() == pytest.approx(glnn_terms["kd"].item())
    assert terms["feat"].item() == pytest.approx(srd_terms["feat"].item())
    # the projector belongs to the combination, so the trainer's optimiser sees it
    assert sum(p.numel() for p in combo.parameters()) == 3 * 5 + 5


def test_combination_names_and_options_are_checked():
    with pytest.raises(UnknownNameError, match="unknown method 'srdd'"):
        gkd.distill.get("glnn+srdd")
    with pytest.raises(TypeError, match="keyed by"):
        gkd.distill.get("glnn+srd", feat_weight=1.0)
    assert gkd.distill.student_model_of("cpf+srd") == "cpf"
    assert gkd.distill.student_model_of("glnn+srd") is None


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def node_pair():
    task = gkd.data.load("synthetic", seed=0)
    teacher = gkd.train_teacher(task, ModelSpec("sage", hidden=32, num_layers=3), TrainConfig(epochs=20))
    return task, teacher


@pytest.mark.parametrize("method", ["fitnet", "srd", "glnn+srd"])
def test_methods_train_the_projector_with_the_student(node_pair, method):
    task, teacher = node_pair
    distiller = gkd.distill.get(method)
    prepare, initial = distiller.prepare, []

    def prepare_and_remember(**kwargs):
        prepare(**kwargs)
        initial.extend(p.detach().clone() for p in distiller.parameters())

    distiller.prepare = prepare_and_remember
    config = TrainConfig(epochs=8, patience=100)
    result = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=16), distiller, config)
    bridge = [m for m in result.distiller.modules() if isinstance(m, nn.Linear)][0]
    assert bridge.weight.shape == (32, 16)
    assert not torch.equal(bridge.weight.detach(), initial[0])  # trained, and restored at the best epoch
    assert all(key in result.history[-1] for key in ("ce", "kd" if method != "fitnet" else "hint"))


def test_spaced_pairing_end_to_end(node_pair):
    task, teacher = node_pair
    result = gkd.train_student(task, teacher, ModelSpec("gcn", hidden=8, num_layers=3), "fitnet",
                               TrainConfig(epochs=3), pairs="spaced")
    assert result.distiller.pairs == [(0, 0), (1, 1)]
    assert [b.weight.shape for b in result.distiller.bridges] == [(32, 8), (32, 8)]


def test_graph_task_pairs_pooled_representations():
    task = gkd.data.load("synthetic-graphs", seed=0)
    teacher = gkd.train_teacher(task, ModelSpec("gin", hidden=16, num_layers=3), TrainConfig(epochs=2))
    result = gkd.train_student(task, teacher, ModelSpec("gcn", hidden=8), "srd", TrainConfig(epochs=2))
    assert result.distiller.level == "graph" and result.distiller.bridges[0].weight.shape == (16, 8)
    node_level = gkd.train_student(task, teacher, ModelSpec("gcn", hidden=8), "fitnet", TrainConfig(epochs=1),
                                   level="node")
    assert node_level.distiller.level == "node" and math.isfinite(node_level.history[0]["hint"])

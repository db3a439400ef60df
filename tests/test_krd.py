"""KRD: the loss by hand on a tiny graph, reliabilities from a teacher we control, the node-task
guard, and distillation that works on Cora."""

import formulas as ref
import pytest
import torch
from torch import nn
from torch_geometric.data import Data

import gkd
import gkd.distill.krd  # noqa: F401  (registers "krd" until the package imports it)
from gkd.distill import Batch, get
from gkd.distill.krd import KRD, entropy_shift, keep_probability
from gkd.errors import MismatchError
from gkd.metrics import predictions_agree
from gkd.outputs import Outputs

S = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [-1.0, 0.5, 1.0]])
T = torch.tensor([[1.0, 1.0, -2.0], [0.0, 3.0, 1.0], [2.0, -1.0, 0.5]])
Y = torch.tensor([0, 2, 1])
# edges j -> i as (source, target): 0 <-> 1, 1 <-> 2, and a self loop at 2 (KRD ignores it)
EDGES = torch.tensor([[0, 1, 1, 2, 2], [1, 0, 2, 1, 2]])


def _batch(labelled=(True, False, True), visible=(True, True, True)):
    return Batch(Data(edge_index=EDGES, num_nodes=3), Y, torch.tensor(labelled), torch.tensor(visible))


def _krd(keep, **options):
    krd = get("krd", **options)
    krd.keep_prob = torch.tensor(keep)  # what prepare would compute; 0 / 1 make the draw deterministic
    return krd


def _pair_kl(pairs, temp):
    """Mean over (student i, teacher j) pairs of KL(ref.softmax(T_j / temp) || ref.softmax(S_i / temp))."""
    total = sum(ref.kl(ref.softmax(T[j].tolist(), temp), ref.softmax(S[i].tolist(), temp)) for i, j in pairs)
    return total / len(pairs)


def test_krd_loss_matches_hand_computation_with_forced_keep_probabilities():
    temp, lam = 0.8, 0.5
    # node 1 is unreliable (never kept): its edges 1 -> 0 and 1 -> 2 drop out; 0 -> 1 and 2 -> 1 stay
    terms = _krd([1.0, 0.0, 1.0], temperature=temp, lam=lam)(Outputs(S), Outputs(T), _batch())
    pairs = [(0, 0), (1, 1), (2, 2), (1, 0), (1, 2)]
    ce = (ref.ce(S[0].tolist(), 0) + ref.ce(S[2].tolist(), 1)) / 2
    assert set(terms) == {"ce", "kd"}
    assert terms["ce"].item() == pytest.approx(lam * ce, rel=1e-6)
    assert terms["kd"].item() == pytest.approx((1 - lam) * _pair_kl(pairs, temp), rel=1e-6)


def test_krd_keeps_every_edge_at_probability_one_and_drops_invisible_teachers():
    temp = 1.3
    all_kept = _krd([1.0, 1.0, 1.0], temperature=temp, lam=0.0)(Outputs(S), Outputs(T), _batch())
    pairs = [(0, 0), (1, 1), (2, 2), (1, 0), (0, 1), (2, 1), (1, 2)]
    assert all_kept["kd"].item() == pytest.approx(_pair_kl(pairs, temp), rel=1e-6)
    assert all_kept["ce"].item() == 0.0
    # the teacher's output at node 2 is not visible: pairs learning from it go
    hidden = _krd([1.0, 1.0, 1.0], temperature=temp, lam=0.0)(Outputs(S), Outputs(T),
                                                             _batch(visible=(True, True, False)))
    pairs = [(0, 0), (1, 1), (1, 0), (0, 1), (2, 1)]
    assert hidden["kd"].item() == pytest.approx(_pair_kl(pairs, temp), rel=1e-6)


def test_krd_sampling_follows_torch_seed():
    krd = _krd([0.5, 0.5, 0.5])
    draws = []
    for seed in (0, 0, 1, 2, 3):
        torch.manual_seed(seed)
        draws.append(krd(Outputs(S), Outputs(T), _batch())["kd"].item())
    assert draws[0] == draws[1]
    assert len(set(draws)) > 1


class _Teacher(nn.Module):
    """logits_i = sensitivity_i * x_i + offset_i: a node with sensitivity 0 ignores its features."""

    def __init__(self, sensitivity):
        super().__init__()
        self.sensitivity = nn.Parameter(torch.tensor(sensitivity).view(-1, 1))
        self.offset = nn.Parameter(torch.tensor([[2.0, 0.0, -1.0]]))

    def forward(self, data):
        return Outputs(self.sensitivity * data.x + self.offset)


def _toy_task(x):
    data = Data(x=x, edge_index=torch.tensor([[0, 1], [1, 0]]), y=torch.tensor([0, 1]))
    split = {"train": torch.tensor([0]), "valid": torch.tensor([1]), "test": torch.tensor([], dtype=torch.long)}
    return gkd.Task(name="toy", kind="node", data=data, split=split, num_classes=3)


def test_reliable_node_gets_higher_keep_probability():
    torch.manual_seed(0)
    task = _toy_task(torch.tensor([[0.5, 1.0, 0.0], [0.5, 1.0, 0.0]]))
    teacher = _Teacher([0.0, 1.0]).train()
    krd = KRD(noise_samples=8)
    krd.prepare(task=task, student=nn.Linear(3, 3), teacher=teacher, teacher_logits=None)
    # node 0's prediction ignores the noise: rho 0, always kept; node 1's entropy moves
    assert krd.reliability[0].item() == pytest.approx(0.0, abs=1e-6)
    assert krd.reliability[1].item() > 0.01
    assert krd.keep_prob[0].item() == pytest.approx(1.0)
    assert krd.keep_prob[0] > krd.keep_prob[1]
    assert teacher.training and not krd.reliability.requires_grad  # mode restored, no graph kept
    assert "keep_prob" not in krd.state_dict()


def test_entropy_shift_and_keep_probability_shapes():
    task = _toy_task(torch.tensor([[0.5, 1.0, 0.0], [0.5, 1.0, 0.0]]))
    torch.manual_seed(0)
    rho = entropy_shift(_Teacher([0.0, 1.0]), task.data, noise_scale=0.0)
    assert torch.equal(rho, torch.zeros(2))  # no noise, no shift
    assert torch.equal(keep_probability(rho), torch.ones(2))
    kp = keep_probability(torch.tensor([0.0, 1.0, 2.0, 4.0]), power=1.0)
    assert torch.allclose(kp, torch.tensor([1.0, 0.75, 0.5, 0.0]))
    assert torch.all(keep_probability(torch.tensor([0.0, 1.0, 2.0]), power=2.0)
                     >= keep_probability(torch.tensor([0.0, 1.0, 2.0]), power=1.0))


def test_krd_refuses_graph_tasks():
    graphs = [Data(x=torch.randn(3, 4), edge_index=torch.tensor([[0, 1], [1, 2]]), y=torch.tensor([i % 2]))
              for i in range(4)]
    split = {"train": torch.tensor([0, 1]), "valid": torch.tensor([2]), "test": torch.tensor([3])}
    task = gkd.Task(name="toy-graphs", kind="graph", data=graphs, split=split, num_classes=2)
    with pytest.raises(MismatchError, match="node tasks only"):
        KRD().prepare(task=task, student=nn.Linear(4, 2), teacher=nn.Linear(4, 2), teacher_logits=None)


def test_krd_needs_prepare_and_a_teacher_module():
    with pytest.raises(RuntimeError, match="prepare"):
        get("krd")(Outputs(S), Outputs(T), _batch())
    with pytest.raises(ValueError, match="teacher model"):
        KRD().prepare(task=_toy_task(torch.ones(2, 3)), student=nn.Linear(3, 3), teacher=None, teacher_logits=None)


def test_krd_moves_an_mlp_toward_its_sage_teacher_on_cora(shared_root):
    task = gkd.data.load("cora", root=shared_root, split="public")
    teacher = gkd.train_teacher(task, gkd.ModelSpec("sage", dropout=0.8), gkd.TrainConfig(epochs=200, patience=50))
    config = gkd.TrainConfig(epochs=200, weight_decay=5e-3, patience=50)
    spec = gkd.ModelSpec("mlp", dropout=0.8)
    torch.manual_seed(0)
    alone = gkd.fit(spec.build(task), task, config)
    krd = gkd.train_student(task, teacher, spec, "krd", config)
    test = task.split["test"]
    agree_alone = predictions_agree(alone.logits[test], teacher.logits[test])
    agree_krd = predictions_agree(krd.logits[test], teacher.logits[test])
    assert agree_krd > agree_alone + 0.10
    assert krd.scores["test"] > alone.scores["test"] + 0.10
    assert set(krd.history[0]) == {"epoch", "valid", "epoch_seconds", "valid_seconds", "ce", "kd"}

"""CPF: the distance loss by hand, label clamping, the O(E) edge softmax, and a student that
matches its GCN teacher on Cora."""
import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch_geometric.data import Data

import gkd
import gkd.distill.cpf  # noqa: F401  (registers "cpf" until the package imports it)
from gkd import ModelSpec, TrainConfig
from gkd.distill import Batch, get
from gkd.models.cpf import CPFStudent
from gkd.outputs import Outputs

S = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [0.0, 0.0, 3.0]])
T = torch.tensor([[1.0, 1.0, -2.0], [0.0, 3.0, 1.0], [1.0, -1.0, 0.5]])


def _softmax(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def _distance(s_row, t_row):
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(_softmax(s_row), _softmax(t_row))))


def _batch(labelled, visible):
    return Batch(Data(num_nodes=3), torch.tensor([0, 1, 2]), torch.tensor(labelled), torch.tensor(visible))


def test_cpf_loss_is_the_mean_euclidean_distance_on_unlabelled_nodes():
    # node 0 labelled (no loss), node 1 and 2 unlabelled with a visible teacher
    terms = get("cpf")(Outputs(S), Outputs(T), _batch((True, False, False), (True, True, True)))
    d1, d2 = _distance(S[1].tolist(), T[1].tolist()), _distance(S[2].tolist(), T[2].tolist())
    assert set(terms) == {"kd"}
    assert terms["kd"].item() == pytest.approx((d1 + d2) / 2, rel=1e-6)
    # a node whose teacher output is hidden counts for nothing
    hidden = get("cpf")(Outputs(S), Outputs(T), _batch((True, False, False), (True, True, False)))
    assert hidden["kd"].item() == pytest.approx(d1, rel=1e-6)
    # the other reductions: the paper's sum and the authors' code's one square root
    total = get("cpf", reduction="sum")(Outputs(S), Outputs(T), _batch((True, False, False), (True, True, True)))
    frob = get("cpf", reduction="frobenius")(Outputs(S), Outputs(T), _batch((True, False, False), (True, True, True)))
    assert total["kd"].item() == pytest.approx(d1 + d2, rel=1e-6)
    assert frob["kd"].item() == pytest.approx(math.sqrt(d1**2 + d2**2), rel=1e-6)


def test_cpf_loss_is_zero_for_identical_outputs_and_rejects_binary_tasks():
    batch = _batch((False,) * 3, (True,) * 3)
    assert get("cpf")(Outputs(T), Outputs(T), batch)["kd"].item() == pytest.approx(0.0, abs=1e-7)
    batch.objective = "binary"
    with pytest.raises(ValueError, match="multiclass"):
        get("cpf")(Outputs(S), Outputs(T), batch)
    assert gkd.distill.get("cpf").family == "output"


def _randomised(task, **options):
    torch.manual_seed(0)
    model = CPFStudent.from_task(task, hidden=16, num_layers=4, **options)
    with torch.no_grad():  # move away from the uniform start so the checks mean something
        model.balance.normal_()
        model.confidence.normal_()
    return model


@pytest.mark.parametrize("training", [False, True])
def test_labelled_nodes_are_clamped_to_their_one_hot_labels(training):
    task = gkd.data.load("synthetic")
    model = _randomised(task, attention_dropout=0.3).train(training)
    h, _ = model.distribution(task.data)
    train = task.split["train"]
    one_hot = torch.nn.functional.one_hot(task.data.y[train], task.num_classes).float()
    assert torch.equal(h[train], one_hot)
    logits = model(task.data).logits
    assert torch.equal(logits[train].argmax(-1), task.data.y[train])
    assert torch.allclose(logits[train].softmax(-1), one_hot, atol=1e-6)
    if not training:  # without dropout every row is a distribution and softmax(logits) gives it back
        assert torch.allclose(h.sum(-1), torch.ones(h.size(0)), atol=1e-5)
        assert torch.allclose(logits.softmax(-1), h, atol=1e-5)


def test_student_reads_only_the_training_labels():
    task = gkd.data.load("synthetic")
    model = CPFStudent.from_task(task)
    train = task.split["train"]
    assert int(model.labelled.sum()) == train.numel()
    assert model.label_one_hot.sum().item() == train.numel()
    assert torch.equal(model.labelled.nonzero().view(-1), train.sort().values)


class _LargestTensor(TorchDispatchMode):
    """Records the largest tensor any operation returns."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for leaf in tree_leaves(out):
            if isinstance(leaf, torch.Tensor):
                self.largest = max(self.largest, leaf.numel())
        return out


@pytest.mark.parametrize("confidence", ["node", "feature"])
def test_edge_attention_sums_to_one_and_nothing_is_n_by_n(confidence):
    task = gkd.data.load("synthetic")
    n, data = task.data.num_nodes, task.data
    assert n == 2000
    model = _randomised(task, confidence=confidence).eval()
    edge_index = model.edges(data)
    att = model.attention(data, edge_index)
    assert att.shape == (edge_index.size(1),) and bool((att > 0).all())
    per_node = torch.zeros(n).index_add_(0, edge_index[1], att.detach())
    assert torch.allclose(per_node, torch.ones(n), atol=1e-5)
    # every node receives from itself and its in-neighbours, nothing else
    assert edge_index.size(1) == data.edge_index.size(1) + n

    model.train()
    with _LargestTensor() as probe:
        out = model(data)
        out.logits.logsumexp(-1).sum().backward()
    widest = max(edge_index.size(1) * task.num_classes, n * task.num_features)
    assert out.logits.shape == (n, task.num_classes)
    assert probe.largest <= widest < n * n // 10


def test_student_is_bound_to_its_node_set():
    task = gkd.data.load("synthetic")
    model = CPFStudent.from_task(task, num_layers=2)
    smaller = Data(x=task.data.x[:100], edge_index=torch.empty(2, 0, dtype=torch.long), num_nodes=100)
    with pytest.raises(gkd.errors.MismatchError, match="2000 nodes"):
        model(smaller)


def test_cpf_student_matches_its_gcn_teacher_on_cora(shared_root):
    task = gkd.data.load("cora", root=shared_root, split="cpf", seed=0)
    teacher = gkd.train_teacher(task, ModelSpec("gcn", hidden=64, dropout=0.8),
                                TrainConfig(epochs=200, weight_decay=5e-3, patience=50))
    torch.manual_seed(0)
    student = CPFStudent.from_task(task)
    result = gkd.train_student(task, teacher, student, "cpf",
                               TrainConfig(epochs=60, lr=0.01, weight_decay=5e-4, patience=60))
    assert result.scores["train"] == 1.0  # clamped labels
    assert result.scores["test"] >= teacher.scores["test"] - 0.02


def test_the_authors_ft_scores_mix_raw_scores_into_h_and_give_h_as_the_logits():
    task = gkd.data.load("synthetic")
    torch.manual_seed(0)
    scores = CPFStudent.from_task(task, hidden=8, num_layers=1, dropout=0.0, ft_output="scores").eval()
    with torch.no_grad():
        scores.balance.normal_()
        scores.confidence.normal_()
    h, _ = scores.distribution(task.data)
    assert torch.equal(scores(task.data).logits, h)  # the student's distribution is softmax(h)
    # by hand for an unlabelled node v: s(a_v) * sum_j att_vj h0_j + s(-a_v) * f(x_v), f's raw scores,
    # h0 uniform off the training nodes and one-hot on them
    f_scores, _ = scores.transform(task.data)
    assert not torch.allclose(f_scores.sum(-1), torch.ones(f_scores.size(0)))  # not a distribution
    edges = scores.edges(task.data)
    att = scores.attention(task.data, edges)
    h0 = torch.full((task.num_items, task.num_classes), 1.0 / task.num_classes)
    h0[task.split["train"]] = torch.nn.functional.one_hot(task.data.y[task.split["train"]], task.num_classes).float()
    v = int(task.split["test"][0])
    into = edges[1] == v
    keep = torch.sigmoid(scores.balance[v])
    expected = torch.relu(keep * (att[into].unsqueeze(-1) * h0[edges[0][into]]).sum(0) + (1 - keep) * f_scores[v])
    assert torch.allclose(h[v], expected, atol=1e-5)
    train = task.split["train"]
    assert torch.equal(h[train], torch.nn.functional.one_hot(task.data.y[train], task.num_classes).float())
    with pytest.raises(ValueError, match="unknown ft_output 'logits'; valid: softmax, scores"):
        CPFStudent.from_task(task, ft_output="logits")


def test_per_layer_dropout_draws_fresh_ft_and_attention_masks_in_every_layer_and_changes_nothing_at_evaluation():
    task = gkd.data.load("synthetic")
    torch.manual_seed(0)
    once = CPFStudent.from_task(task, hidden=8, num_layers=3, dropout=0.5, confidence_dropout=0.5)
    fresh = CPFStudent.from_task(task, hidden=8, num_layers=3, dropout=0.5, confidence_dropout=0.5,
                                 per_layer_dropout=True)
    fresh.load_state_dict(once.state_dict())
    calls = []
    for model in (once, fresh):
        model.ft_in.register_forward_hook(lambda module, args, out, name=model: calls.append(name))
    once.train()(task.data)
    fresh.train()(task.data)
    assert (calls.count(once), calls.count(fresh)) == (1, 3)  # FT once a pass, or once a layer
    calls.clear()
    with torch.no_grad():
        assert torch.equal(once.eval()(task.data).logits, fresh.eval()(task.data).logits)
    assert (calls.count(once), calls.count(fresh)) == (1, 1)  # no dropout at evaluation: one FT pass


def test_confidence_dropout_and_init_follow_the_authors_and_refuse_what_does_not_apply():
    task = gkd.data.load("synthetic")
    torch.manual_seed(0)
    model = CPFStudent.from_task(task, confidence_init="xavier", confidence_dropout=0.8)
    n = int(task.data.num_nodes)
    assert abs(model.confidence.std().item() - (4.0 / (n + 1)) ** 0.5) < 0.1 * (4.0 / (n + 1)) ** 0.5
    assert torch.count_nonzero(CPFStudent.from_task(task).confidence) == 0  # zeros by default
    model.train()
    edges = model.edges(task.data)
    # the attention of a training pass sees about 20% of the scores (the others dropped to 0)
    seen = torch.stack([model.attention(task.data, edges) for _ in range(2)])
    assert not torch.equal(seen[0], seen[1])
    with pytest.raises(ValueError, match="unknown confidence_init 'ones'; valid: zeros, xavier"):
        CPFStudent.from_task(task, confidence_init="ones")
    with pytest.raises(ValueError, match="confidence_dropout applies to per-node confidences"):
        CPFStudent.from_task(task, confidence="feature", confidence_dropout=0.5)

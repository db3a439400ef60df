"""Faithfulness: the confidence gap by hand, PGD (a lower bound) never above IBP (an upper bound),
IBP intervals that contain the logits anywhere in the ball, and the faithful distiller's terms."""
import math

import pytest
import torch
from torch import nn
from torch_geometric.data import Data

import gkd
import gkd.distill.faithful  # noqa: F401  (registers "faithful"; the package __init__ will import it later)
from gkd.data.synthetic import csbm
from gkd.distill import Batch, get
from gkd.distill.faithful import FaithfulKD
from gkd.metrics import faithfulness as F
from gkd.models import GAT, GCN, MLP, SAGE, HookedModel
from gkd.outputs import Outputs

# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """The tensors here are tiny: with two threads on a shared machine the thread hand-offs cost
    3-4x the work itself. One thread for this module, the previous setting restored after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


X2 = torch.tensor([[1.0, 0.0], [0.5, -1.0]])
W_T, B_T = [[1.0, -1.0], [0.0, 2.0], [-1.0, 0.5]], [0.0, 0.5, 0.2]
W_S, B_S = [[0.5, 0.0], [1.0, 1.0], [0.0, -1.0]], [0.1, 0.0, -0.2]


def _linear_model(weight, bias) -> MLP:
    model = MLP(2, 4, 3, num_layers=1).eval()  # one Linear layer, no norm, no activation
    model.layers[0].weight.data = torch.tensor(weight)
    model.layers[0].bias.data = torch.tensor(bias)
    return model


def _hand_logits(weight, bias, x):
    return [sum(w * xi for w, xi in zip(row, x)) + b for row, b in zip(weight, bias)]


def _softmax(row):
    e = [math.exp(v) for v in row]
    return [v / sum(e) for v in e]


def _hand_gap(x):
    t, s = _hand_logits(W_T, B_T, x), _hand_logits(W_S, B_S, x)
    k = max(range(3), key=lambda j: t[j])
    return abs(_softmax(t)[k] - _softmax(s)[k])


def _randomise_batch_norms(model: nn.Module, gen: torch.Generator) -> None:
    """Running statistics and affine weights of either sign, so the eval-mode affine map has
    negative scales too."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=gen))
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.1)
            m.weight.data.copy_(torch.randn(m.num_features, generator=gen))
            m.bias.data.copy_(torch.randn(m.num_features, generator=gen))


def _random_mlp(gen: torch.Generator, in_dim: int, classes: int) -> MLP:
    layers = int(torch.randint(1, 4, (1,), generator=gen))
    norm = "batch" if bool(torch.rand(1, generator=gen) < 0.5) else None
    model = MLP(in_dim, int(torch.randint(3, 9, (1,), generator=gen)), classes, num_layers=layers, norm=norm)
    for p in model.parameters():
        p.data.copy_(torch.randn(p.shape, generator=gen) * 0.8)
    _randomise_batch_norms(model, gen)
    return model.eval()


def _graph(n=10, d=4, seed=0) -> Data:
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(n, (2, 24), generator=gen)
    ei = ei[:, ei[0] != ei[1]]
    return Data(x=torch.randn(n, d, generator=gen), edge_index=ei, num_nodes=n)


def _in_ball_samples(x0: torch.Tensor, eps: float, gen: torch.Generator, count: int):
    """Uniform points and box vertices (where ReLU networks reach their extremes most often)."""
    for i in range(count):
        u = torch.rand(x0.shape, generator=gen) * 2 - 1
        yield x0 + eps * (u.sign() if i % 2 else u)


# --------------------------------------------------------------------------- (a) the formula


def test_confidence_gap_matches_hand_computation_on_linear_pair():
    teacher, student = _linear_model(W_T, B_T), _linear_model(W_S, B_S)
    data = Data(x=X2, num_nodes=2)
    gap = F.confidence_gap(teacher(data).logits, student(data).logits)
    expected = [_hand_gap(row) for row in X2.tolist()]
    assert gap.tolist() == pytest.approx(expected, rel=1e-6)
    # epsilon = 0: the attack and the certificate both return the clean gap
    assert F.pgd_gap(teacher, student, data, None, epsilon=0.0, steps=3).tolist() == pytest.approx(expected, rel=1e-6)
    assert F.ibp_gap(teacher, student, data, None, epsilon=0.0).tolist() == pytest.approx(expected, rel=1e-6)


def test_linear_interval_and_softmax_bounds_by_hand():
    teacher, eps = _linear_model(W_T, B_T), 0.1
    lower, upper = F.ibp_logit_bounds(teacher, Data(x=X2, num_nodes=2), eps)
    for r, x in enumerate(X2.tolist()):
        z = _hand_logits(W_T, B_T, x)
        slack = [eps * sum(abs(w) for w in row) for row in W_T]
        assert lower[r].tolist() == pytest.approx([a - s for a, s in zip(z, slack)], rel=1e-6)
        assert upper[r].tolist() == pytest.approx([a + s for a, s in zip(z, slack)], rel=1e-6)
    lo, hi = torch.tensor([[0.0, -1.0, 1.0]]), torch.tensor([[2.0, 0.5, 1.5]])
    p_lo, p_hi = F.confidence_bounds(lo, hi, torch.tensor([0]))
    assert p_hi.item() == pytest.approx(math.exp(2) / (math.exp(2) + math.exp(-1) + math.exp(1)), rel=1e-6)
    assert p_lo.item() == pytest.approx(1 / (1 + math.exp(0.5) + math.exp(1.5)), rel=1e-6)


# --------------------------------------------------------------------------- (b) MLP property


@pytest.mark.parametrize("seed", range(30))
def test_pgd_never_exceeds_ibp_and_ibp_contains_logits_mlp(seed):
    gen = torch.Generator().manual_seed(seed)
    d, classes, n = 5, int(torch.randint(2, 5, (1,), generator=gen)), 6
    teacher, student = _random_mlp(gen, d, classes), _random_mlp(gen, d, classes)
    eps = float(torch.rand(1, generator=gen)) * 0.5 + 0.01
    data = Data(x=torch.randn(n, d, generator=gen), num_nodes=n)
    upper_gap = F.ibp_gap(teacher, student, data, None, eps)
    lower_gap = F.pgd_gap(teacher, student, data, None, eps, steps=10, seed=seed)
    assert (lower_gap <= upper_gap + 1e-6).all()
    assert ((upper_gap >= 0) & (upper_gap <= 1)).all()
    samples = torch.cat(list(_in_ball_samples(data.x, eps, gen, 20)))  # rows are independent: one forward
    for model in (teacher, student):
        lo, hi = F.ibp_logit_bounds(model, data, eps)
        z = model(Data(x=samples, num_nodes=samples.size(0))).logits.view(20, n, -1)
        assert (z >= lo - 1e-5).all() and (z <= hi + 1e-5).all()
    assert not teacher.training and not student.training  # modes restored


# --------------------------------------------------------------------------- (c) GNN containment


@pytest.mark.parametrize("name, norm", [("sage", None), ("sage", "batch"), ("gcn", None), ("gcn", "batch")])
def test_ibp_contains_gnn_logits_under_joint_perturbation(name, norm):
    gen = torch.Generator().manual_seed(7)
    data = _graph()
    cls = {"sage": SAGE, "gcn": GCN}[name]
    model = cls(4, 6, 3, num_layers=2, norm=norm)
    _randomise_batch_norms(model, gen)
    model.eval()
    eps = 0.2
    lo, hi = F.ibp_logit_bounds(model, data, eps)
    for x in _in_ball_samples(data.x, eps, gen, 40):  # every node's features move at once
        z = model(Data(x=x, edge_index=data.edge_index, num_nodes=data.num_nodes)).logits
        assert (z >= lo - 1e-5).all() and (z <= hi + 1e-5).all()
    student = _random_mlp(gen, 4, 3)
    index = torch.tensor([0, 3, 5, 9])
    found = F.pgd_gap(model, student, data, index, eps, steps=10)
    assert (found <= F.ibp_gap(model, student, data, index, eps) + 1e-6).all()


# --------------------------------------------------------------------------- (d) epsilon = 0


@pytest.mark.parametrize("name", ["mlp", "sage", "gcn"])
def test_zero_epsilon_ibp_gap_is_the_clean_gap(name):
    torch.manual_seed(1)
    data = _graph()
    teacher = {"mlp": MLP, "sage": SAGE, "gcn": GCN}[name](4, 16, 3, norm="batch").eval()
    student = MLP(4, 8, 3).eval()
    clean = F.confidence_gap(teacher(data).logits, student(data).logits)
    assert torch.allclose(F.ibp_gap(teacher, student, data, None, 0.0), clean, atol=1e-6)
    index = torch.tensor([1, 4])
    assert torch.allclose(F.ibp_gap(teacher, student, data, index, 0.0), clean[index], atol=1e-6)


# --------------------------------------------------------------------------- the share


def test_faithful_share_counts_teacher_correct_points_only():
    teacher, student = _linear_model(W_T, B_T), _linear_model(W_S, B_S)
    data = Data(x=X2, num_nodes=2)
    gaps = [_hand_gap(row) for row in X2.tolist()]
    k = teacher(data).logits.argmax(-1)
    wrong = (k + 1) % 3
    between = (gaps[0] + gaps[1]) / 2
    low, high = min(gaps) - 1e-3, max(gaps) + 1e-3
    for method in ("pgd", "ibp"):
        share = lambda labels, delta: F.faithful_share(  # noqa: E731
            teacher, student, data, None, labels, epsilon=0.0, delta=delta, method=method)
        assert share(k, high) == 1.0 and share(k, low) == 0.0
        assert share(k, between) == 0.5
        only_second = torch.stack([wrong[0], k[1]])  # the teacher is wrong on node 0: it is not counted
        assert share(only_second, between) == float(gaps[1] <= between)
        assert math.isnan(share(wrong, high))
    with pytest.raises(ValueError, match="valid: pgd, ibp"):
        F.faithful_share(teacher, student, data, None, k, method="exact")


# --------------------------------------------------------------------------- (e) the distiller


def test_faithful_terms_by_hand_without_perturbation():
    teacher, student = _linear_model(W_T, B_T), _linear_model(W_S, B_S)
    data = Data(x=X2, num_nodes=2)
    s, t = student(data).logits, teacher(data).logits
    y = torch.tensor([2, 0])
    batch = Batch(data, y, torch.tensor([True, False]), torch.tensor([True, True]))
    lam, temp = 0.7, 2.0
    distiller = get("faithful", lam=lam, steps=0, temperature=temp)
    terms = distiller(Outputs(s), Outputs(t), batch)
    s_rows, t_rows = s.tolist(), t.tolist()
    ce = -math.log(_softmax(s_rows[0])[2])
    soft = lambda row: _softmax([v / temp for v in row])  # noqa: E731
    kl = sum(sum(p * math.log(p / q) for p, q in zip(soft(tr), soft(sr))) for sr, tr in zip(s_rows, t_rows)) / 2
    penalty = sum(_hand_gap(row) for row in X2.tolist()) / 2
    assert set(terms) == {"ce", "kd", "faithful"}
    assert terms["ce"].item() == pytest.approx(ce, rel=1e-6)
    assert terms["kd"].item() == pytest.approx(temp**2 * kl, rel=1e-6)
    assert terms["faithful"].item() == pytest.approx(lam * penalty, rel=1e-6)


def test_teacher_equal_to_student_gives_zero_penalty_and_gradients_reach_the_student_only():
    torch.manual_seed(0)
    task = csbm(num_nodes=60, num_edges=150, num_features=6, num_classes=3, seed=0)
    student = MLP(6, 8, 3)
    twin = MLP(6, 8, 3)
    twin.load_state_dict(student.state_dict())
    teacher = SAGE(6, 8, 3).eval()
    n = task.data.num_nodes
    labelled = torch.zeros(n, dtype=torch.bool)
    labelled[task.split["train"]] = True
    batch = Batch(task.data, task.data.y, labelled, torch.ones(n, dtype=torch.bool))
    distiller = FaithfulKD(epsilon=0.3, steps=3)
    assert list(distiller.parameters()) == [] and len(list(distiller.modules())) == 1

    distiller.prepare(task=task, student=student, teacher=twin.eval(), teacher_logits=None)
    student.eval()
    out = student(task.data)
    terms = distiller(out, Outputs(twin(task.data).logits.detach()), batch)
    assert terms["faithful"].item() == pytest.approx(0.0, abs=1e-7)
    assert terms["kd"].item() == pytest.approx(0.0, abs=1e-6)

    distiller.prepare(task=task, student=student, teacher=teacher, teacher_logits=None)
    student.train()
    out = student(task.data)
    with torch.no_grad():
        t_logits = teacher(task.data).logits
    clean = F.confidence_gap(t_logits, out.logits.detach()).mean()
    terms = distiller(out, Outputs(t_logits), batch)
    assert math.isfinite(terms["faithful"].item()) and terms["faithful"].item() > 0
    terms["faithful"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())
    assert clean.item() > 0 and student.training and not teacher.training


def test_faithful_trains_end_to_end_and_needs_the_teacher_module():
    task = csbm(num_nodes=120, num_edges=300, num_features=8, num_classes=3, seed=1)
    config = gkd.TrainConfig(epochs=4, patience=100)
    teacher = gkd.train_teacher(task, gkd.ModelSpec("sage", hidden=8), config, seed=0, use_cache=False)
    result = gkd.train_student(task, teacher, gkd.ModelSpec("mlp", hidden=8), "faithful", config, seed=0,
                               lam=0.5, epsilon=0.1)
    assert len(result.history) == 4 and all(math.isfinite(h["faithful"]) for h in result.history)
    with pytest.raises(ValueError, match="needs the teacher module"):
        FaithfulKD().prepare(task=task, student=result.model, teacher=None, teacher_logits=teacher.logits)
    with pytest.raises(TypeError, match="no option"):
        get("faithful", alpha=1.0)


# --------------------------------------------------------------------------- (f) unsupported modules


def test_unsupported_modules_raise_errors_naming_them():
    data = _graph()
    mlp = MLP(4, 8, 3).eval()
    cases = [
        (GAT(4, 8, 3).eval(), "GATConv"),
        (MLP(4, 8, 3, norm="layer").eval(), "LayerNorm"),
        (HookedModel(nn.Linear(4, 3), inputs=lambda d: (d.x,)), "HookedModel"),
    ]
    for model, name in cases:
        with pytest.raises(NotImplementedError, match=name):
            F.ibp_gap(model, mlp, data, None, 0.1)
        with pytest.raises(F.UnsupportedModuleError, match=name):
            F.ibp_logit_bounds(model, data, 0.1)

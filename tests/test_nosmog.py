"""NOSMOG: random walks, DeepWalk positions, the positional MLP and the loss terms."""
import pytest
import torch
from torch_geometric.data import Data

from gkd import ModelSpec, TrainConfig
from gkd import data as gkd_data
from gkd.distill import Batch, get
from gkd.distill.nosmog import similarity_gap
from gkd.errors import MismatchError
from gkd.graph.walks import csr, deepwalk, random_walks, skipgram_pairs
from gkd.train import train_student, train_teacher


def _path_graph(n=6):
    src = torch.arange(n - 1)
    return torch.stack([torch.cat([src, src + 1]), torch.cat([src + 1, src])])


def test_walks_follow_edges_and_are_seeded():
    edge_index = _path_graph()
    edge_index = torch.cat([edge_index, torch.tensor([[6], [6]])], dim=1)[:, :-1]  # node 6: no edges
    rowptr, col = csr(edge_index, 7)
    assert rowptr.tolist() == [0, 1, 3, 5, 7, 9, 10, 10] and col[rowptr[2]:rowptr[3]].tolist() == [1, 3]
    starts = torch.arange(7).repeat(20)
    walks = random_walks(rowptr, col, starts, 8, torch.Generator().manual_seed(0))
    assert walks.shape == (140, 9) and torch.equal(walks[:, 0], starts)
    steps = (walks[:, 1:] - walks[:, :-1]).abs()
    moving = walks[:, 0] != 6
    assert (steps[moving] == 1).all()  # every step crosses an edge of the path
    assert (walks[~moving] == 6).all()  # an isolated node stays put
    assert torch.equal(walks, random_walks(rowptr, col, starts, 8, torch.Generator().manual_seed(0)))
    # from node 0 the first step always goes to 1, from node 2 to 1 or 3 with about equal odds
    assert (walks[starts == 0, 1] == 1).all()
    ones = (walks[starts == 2, 1] == 1).float().mean()
    assert 0.2 < ones < 0.8


def test_skipgram_pairs_within_the_window():
    centre, context = skipgram_pairs(torch.tensor([[0, 1, 2]]), window=1)
    assert sorted(zip(centre.tolist(), context.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]


def test_deepwalk_places_the_two_halves_of_a_barbell_apart():
    # two 6-cliques joined by one edge: nodes of the same clique must end up closer
    edges = [(a, b) for block in (range(6), range(6, 12)) for a in block for b in block if a != b] + [(5, 6), (6, 5)]
    edge_index = torch.tensor(edges).t()
    settings = dict(dim=8, walks_per_node=20, walk_length=10, window=3, epochs=5, batch_size=256)
    emb = deepwalk(edge_index, 12, **settings, use_cache=False)
    z = torch.nn.functional.normalize(emb, dim=-1)
    sim = z @ z.t()
    inside = (sim[:6, :6].sum() - 6) / 30
    across = sim[:6, 6:].mean()
    assert inside > across + 0.3
    assert torch.equal(emb, deepwalk(edge_index, 12, **settings, use_cache=False))


def test_similarity_gap_by_hand():
    h_t = torch.tensor([[1.0, 0.0], [0.0, 2.0]])  # Gram [[1, 0], [0, 4]]
    h_s = torch.tensor([[1.0], [1.0]])  # Gram all ones
    assert similarity_gap(h_s, h_t).item() == pytest.approx((0 + 1 + 1 + 9) / 4)


def test_similarity_gap_over_many_rows_equals_the_gram_matrices_and_their_gradient():
    torch.manual_seed(0)
    h_s = torch.randn(300, 8, requires_grad=True)  # more rows than widths: the width x width route
    h_t = torch.randn(300, 12)
    direct = (h_t @ h_t.t() - h_s @ h_s.t()).pow(2).mean()
    (expected,) = torch.autograd.grad(direct, h_s)
    gap = similarity_gap(h_s, h_t)
    (grad,) = torch.autograd.grad(gap, h_s)
    assert gap.item() == pytest.approx(direct.item(), rel=1e-5)
    assert torch.allclose(grad, expected, rtol=1e-4, atol=1e-7)


def test_nosmog_student_reads_positions_and_its_terms_are_finite():
    task = gkd_data.load("synthetic", seed=0)
    student = ModelSpec("nosmog", hidden=16).build(task)
    assert student.encoding.shape == (task.num_items, 64)
    assert torch.allclose(student.encoding.mean(0), torch.zeros(64), atol=1e-4)
    config = TrainConfig(epochs=3, lr=0.01)
    teacher = train_teacher(task, ModelSpec("sage", hidden=16), config, seed=0, use_cache=False)
    result = train_student(task, teacher, ModelSpec("nosmog", hidden=16), "nosmog", config, seed=0)
    assert {"ce", "kd", "adv", "similarity"} <= set(result.history[0])
    assert all(torch.isfinite(torch.tensor(v)) for v in result.history[-1].values())


def test_the_positional_student_is_a_layer_over_features_and_positions():
    task = gkd_data.load("synthetic", seed=0)
    student = ModelSpec("nosmog", hidden=16).build(task).eval()
    first = student.mlp.layers[0]
    assert first.in_features == task.num_features + 64  # one weight over [x || p], as a concatenation
    wide = torch.cat([task.data.x, student.encoding], dim=-1)
    expected = student.mlp.layers[1](torch.relu(first(wide)))
    assert torch.allclose(student(task.data).logits, expected, atol=1e-5)


def test_nosmog_adversarial_point_raises_the_loss():
    torch.manual_seed(0)
    task = gkd_data.load("synthetic", seed=0)
    teacher = ModelSpec("sage", hidden=16).build(task).eval()
    student = ModelSpec("nosmog", hidden=16).build(task)
    nosmog = get("nosmog", epsilon=0.5, steps=5, similarity_weight=0.0)
    nosmog.prepare(task=task, student=student, teacher=teacher, teacher_logits=None)
    data = task.data
    everyone = torch.ones(task.num_items, dtype=torch.bool)
    batch = Batch(data, data.y, everyone, everyone)
    t_logits = teacher(data).logits.detach()
    student.eval()
    clean = sum(nosmog.terms(student(data).logits, t_logits, batch).values())
    attacked = sum(nosmog.terms(nosmog.perturbed_logits(t_logits, batch), t_logits, batch).values())
    assert attacked > clean


def test_the_positional_student_reads_the_ids_of_a_block_of_rows_and_trains_on_node_batches():
    task = gkd_data.load("synthetic", seed=0)
    student = ModelSpec("nosmog", hidden=16).build(task).eval()
    rows = torch.tensor([5, 0, 17])
    whole = student(task.data).logits
    block = student(Data(x=task.data.x[rows], n_id=rows, num_nodes=3)).logits
    assert torch.allclose(block, whole[rows], atol=1e-6)  # each row's own position, not the first rows'
    with pytest.raises(MismatchError, match="holds positions for 2000 nodes, the input has 3 rows and no node ids"):
        student(Data(x=task.data.x[rows], num_nodes=3))
    config = TrainConfig(epochs=2, lr=0.01, fanouts=(5, 5), batch_size=512)
    teacher = train_teacher(task, ModelSpec("sage", hidden=16), TrainConfig(epochs=3), seed=0, use_cache=False)
    batches = []
    original = type(student).forward

    def spy(self, data):
        batches.append(data.x.size(0))
        return original(self, data)

    type(student).forward = spy
    try:
        train_student(task, teacher, ModelSpec("nosmog", hidden=16), "nosmog", config, seed=0, adv_weight=0.0)
    finally:
        type(student).forward = original
    # node batches while training, no neighbours: 2000 nodes make 512, 512, 512 and 464 rows an epoch
    assert batches.count(512) == 3 * 2 and batches.count(464) == 2


def test_model_options_reach_the_walks_and_glorot_init_zeroes_biases():
    task = gkd_data.load("synthetic", seed=0)
    small = ModelSpec("nosmog", hidden=16, options=(("dim", 8), ("walk_length", 6))).build(task)
    assert small.encoding.shape == (task.num_items, 8)
    mlp = ModelSpec("mlp", hidden=16, init="glorot").build(task)
    first = mlp.layers[0]
    bound = (6 / (first.in_features + first.out_features)) ** 0.5
    assert float(first.bias.detach().abs().max()) == 0.0 and float(first.weight.detach().abs().max()) <= bound
    assert ModelSpec("mlp", init="glorot").label() == "mlp2x128-glorot" and ModelSpec("mlp").label() == "mlp2x128"
    with pytest.raises(ValueError, match="unknown init 'he'; valid inits: default, glorot"):
        ModelSpec("mlp", init="he")
    with pytest.raises(TypeError, match="model 'mlp' has no option walk_length; its options: none"):
        ModelSpec("mlp", options=(("walk_length", 3),)).build(task)


def test_hidden_before_relu_keeps_the_logits_and_holds_the_linear_map():
    task = gkd_data.load("synthetic", seed=0)
    torch.manual_seed(0)
    post = ModelSpec("nosmog", hidden=16).build(task).eval()
    pre = ModelSpec("nosmog", hidden=16, options=(("hidden_before_relu", True),)).build(task).eval()
    pre.load_state_dict(post.state_dict())
    out_post, out_pre = post(task.data), pre(task.data)
    assert torch.allclose(out_pre.logits, out_post.logits, atol=1e-6)
    wide = torch.cat([task.data.x, post.encoding], dim=-1)
    first = post.mlp.layers[0]
    by_hand = wide @ first.weight.t() + first.bias  # the first map's output, before its ReLU
    assert torch.allclose(out_pre.hidden[-1], by_hand, atol=1e-5)
    assert (out_pre.hidden[-1] < 0).any() and (out_post.hidden[-1] >= 0).all()
    assert torch.allclose(out_post.hidden[-1], by_hand.clamp_min(0), atol=1e-5)


def test_standardise_false_keeps_the_walks_scale():
    task = gkd_data.load("synthetic", seed=0)
    options = (("dim", 8), ("walk_length", 6))
    raw = ModelSpec("nosmog", hidden=16, options=options + (("standardise", False),)).build(task)
    table = deepwalk(task.data.edge_index, task.num_items, dim=8, walk_length=6)
    assert torch.equal(raw.encoding, table)
    standard = ModelSpec("nosmog", hidden=16, options=options).build(task).encoding
    by_hand = (table - table.mean(0)) / table.std(0)
    assert torch.allclose(standard, by_hand, atol=1e-5) and not torch.allclose(standard, table, atol=1e-2)


def test_teacher_before_relu_reads_the_teachers_last_hidden_map_by_node_id():
    task = gkd_data.load("synthetic", seed=0)
    torch.manual_seed(0)
    teacher = ModelSpec("sage", hidden=16).build(task).eval()
    student = ModelSpec("nosmog", hidden=16, options=(("hidden_before_relu", True),)).build(task)
    nosmog = get("nosmog", teacher_before_relu=True)
    nosmog.prepare(task=task, student=student, teacher=teacher, teacher_logits=None)
    with torch.no_grad():
        expected = teacher.layers[0](task.data.x, task.data)  # SAGE's first layer, before its ReLU
        post = teacher(task.data).hidden[-1]
    table = nosmog._teacher_hidden
    assert torch.allclose(table, expected, atol=1e-5) and (table < 0).any()
    assert torch.allclose(table.clamp_min(0), post, atol=1e-5)
    rows = torch.tensor([7, 3, 11])
    batch = Batch(Data(x=task.data.x[rows], n_id=rows, num_nodes=3), task.data.y[rows],
                  torch.ones(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool))
    assert torch.equal(nosmog.teacher_rows(batch, 3), table[rows])
    # the similarity term against that table: the mean squared Gram gap, here with the projector
    # and its dropout off (eval mode), by hand over the 3 x 3 pairs
    nosmog.eval()
    student.eval()
    out = student(batch.data)
    h_s = torch.relu(nosmog.projector(out.hidden[-1])).detach()
    h_t = table[rows]
    gap = sum(float((h_t[i] @ h_t[j] - h_s[i] @ h_s[j]) ** 2) for i in range(3) for j in range(3)) / 9
    t_out = teacher(task.data)
    terms = nosmog(out, type(t_out)(logits=t_out.logits[rows], hidden=[t_out.hidden[-1][rows]]), batch)
    assert terms["similarity"].item() == pytest.approx(0.1 * gap, rel=1e-4)


def test_the_authors_representation_options_are_refused_when_malformed():
    task = gkd_data.load("synthetic", seed=0)
    with pytest.raises(ValueError, match="nosmog: teacher_before_relu must be True or False, got 'yes'"):
        get("nosmog", teacher_before_relu="yes")
    with pytest.raises(ValueError, match="nosmog student: standardise and hidden_before_relu must be True or False"):
        ModelSpec("nosmog", hidden=16, options=(("dim", 8), ("standardise", 1))).build(task)
    from gkd.models import HookedModel

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = torch.nn.Linear(task.num_features, 8), torch.nn.Linear(8, task.num_classes)

        def forward(self, x, edge_index):
            return self.out(torch.relu(self.hidden(x)))

    foreign = HookedModel(Plain(), hidden=["hidden"])
    student = ModelSpec("nosmog", hidden=16, options=(("dim", 8),)).build(task)
    with pytest.raises(MismatchError, match="teacher_before_relu reads the last hidden layer of one of gkd's layer"):
        get("nosmog", teacher_before_relu=True).prepare(task=task, student=student, teacher=foreign,
                                                        teacher_logits=None)


def test_nosmog_with_the_authors_representations_learns_on_cora_lcc(shared_root):
    task = gkd_data.load("cora-lcc", shared_root, split="cpf", seed=0)
    teacher = train_teacher(task, ModelSpec("sage", hidden=32), TrainConfig(epochs=30, weight_decay=5e-4,
                                                                                patience=30), seed=0, use_cache=False)
    spec = ModelSpec("nosmog", hidden=32, dropout=0.5, options=(("dim", 16), ("walk_length", 10),
                                                                   ("hidden_before_relu", True)))
    config = TrainConfig(epochs=60, lr=0.01, weight_decay=5e-3, patience=60)  # full batch: a light similarity term
    result = train_student(task, teacher, spec, "nosmog", config, seed=0, teacher_before_relu=True, adv_weight=0.0,
                           similarity_weight=0.01)
    first, last = result.history[0]["similarity"], result.history[-1]["similarity"]
    assert last < 0.25 * first, (first, last)  # the similarity term falls (measured: 1.14 to 0.14)
    assert result.scores["test"] > 0.68, result.scores  # measured 0.739; an MLP alone: 0.59 to 0.60 (the ledger)

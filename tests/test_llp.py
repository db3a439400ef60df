"""Link models and LLP: the losses by hand, the context sampling, training on link tasks,
scoring on the right graph, and the refusals."""
import pytest
import torch

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.distill.llp import distribution_loss, rank_loss
from gkd.errors import MismatchError, UnsupportedModuleError
from gkd.models.link import LinkDecoder, LinkModel
from tests.formulas import kl, softmax

CONFIG = TrainConfig(epochs=15, lr=0.01, weight_decay=0.0, patience=100, batch_size=65536, grad_clip=1.0)


@pytest.fixture(scope="module")
def task():
    return gkd.data.load("synthetic-link", split="transductive", seed=0)


@pytest.fixture(scope="module")
def teacher(task):
    return gkd.train_teacher(task, ModelSpec("sage", hidden=32, num_layers=2), CONFIG, seed=0, use_cache=False)


def test_rank_loss_by_hand():
    student = torch.tensor([[0.9, 0.2, 0.5]])
    teacher = torch.tensor([[0.8, 0.75, 0.1]])
    # pairs (0,1): 0.8 vs 0.75 within the margin 0.1 -> order 0, loss max(0, 0.1) = 0.1
    # (0,2): 0.8 > 0.1 + 0.1 -> +1: max(0, -(0.9 - 0.5) + 0.1) = 0
    # (1,2): 0.75 > 0.2 -> +1: max(0, -(0.2 - 0.5) + 0.1) = 0.4
    assert float(rank_loss(student, teacher, 0.1)) == pytest.approx((0.1 + 0.0 + 0.4) / 3)


def test_distribution_loss_by_hand():
    student, teacher = [0.9, 0.2, 0.5], [0.8, 0.75, 0.1]
    for t in (1.0, 2.0):
        expected = kl(softmax(teacher, t), softmax(student, t)) * t * t
        got = distribution_loss(torch.tensor([student, student]), torch.tensor([teacher, teacher]), t)
        assert float(got) == pytest.approx(expected, rel=1e-5)


def test_decoders_by_hand():
    a, b = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]])
    assert float(LinkDecoder("dot", 2)(a, b)) == 1.0  # 3 - 2
    mlp = LinkDecoder("mlp", 2, num_layers=2)
    with torch.no_grad():
        mlp.layers[0].weight.copy_(torch.eye(2)), mlp.layers[0].bias.zero_()
        mlp.layers[1].weight.copy_(torch.tensor([[1.0, 1.0]])), mlp.layers[1].bias.fill_(0.5)
    assert float(mlp(a, b).detach()) == 3.5  # relu([3, -2]) summed, + 0.5
    with pytest.raises(ValueError, match="unknown decoder 'cosine'; valid decoders: mlp, dot"):
        LinkDecoder("cosine", 2)


def test_the_context_is_walks_on_the_training_graph_then_seen_nodes(task):
    method = gkd.distill.get("llp", walks=2, hops=1, random_rate=3)
    model = ModelSpec("mlp", hidden=8).build(task)
    method.prepare(task=task, student=model, teacher=model, teacher_logits=None)
    anchors = torch.arange(50)
    context = method.context(anchors)
    assert context.shape == (50, method.context_size) == (50, 2 * 1 * 4)
    edges = task.data.edge_index
    neighbours = {(int(a), int(b)) for a, b in edges.t()}
    degree = torch.bincount(edges[0], minlength=task.data.num_nodes)
    for a in range(50):
        for c in context[a, :2].tolist():  # one step from the anchor: a neighbour (or itself when isolated)
            assert (a, c) in neighbours or (degree[a] == 0 and c == a)


def test_a_link_model_scores_pairs_from_its_embeddings(task):
    model = ModelSpec("sage", hidden=16).build(task)
    assert isinstance(model, LinkModel) and model.encoder_name == "sage"
    data = task.data.clone()
    data.pairs = torch.tensor([[0, 5], [1, 9]])
    model.eval()
    out = model(data)
    h = model.embed(task.data).logits
    assert out.logits.shape == (2, 1) and torch.allclose(out.embeddings, h)
    assert torch.allclose(out.logits, model.score(h[[0, 5]], h[[1, 9]]))


def test_production_test_pairs_are_scored_on_the_inference_graph():
    task = gkd.data.load("synthetic-link", split="production", seed=1)
    model = ModelSpec("sage", hidden=16).build(task).eval()
    test = task.split["test-new-new"]
    scores = gkd.predict(model, task, index=test)
    inference = task.data.clone()
    inference.edge_index = task.data.inference_edge_index
    h = model.embed(inference).logits
    pairs = task.data.pairs[:, test]
    assert torch.allclose(scores, model.score(h[pairs[0]], h[pairs[1]]), atol=1e-6)
    # on the training graph the new nodes have no edges: a GNN would score them otherwise
    h_train = model.embed(task.data).logits
    assert not torch.allclose(scores, model.score(h_train[pairs[0]], h_train[pairs[1]]), atol=1e-3)


def test_llp_moves_the_mlp_towards_its_teachers_ranking(task, teacher):
    student = ModelSpec("mlp", hidden=32, num_layers=2)
    alone = gkd.train_student(task, None, student, "none", CONFIG, seed=0)
    taught = gkd.train_student(task, teacher, student, "llp", CONFIG, seed=0, label_weight=0.1, rank_weight=1.0,
                               distribution_weight=1.0)
    assert {"ce", "llp_rank", "llp_dist"} <= set(taught.history[0])
    probe = gkd.distill.get("llp", walks=3, hops=2)
    probe.prepare(task=task, student=teacher.model, teacher=teacher.model, teacher_logits=None)
    torch.manual_seed(7)
    anchors = torch.arange(task.data.num_nodes)
    context = probe.context(anchors)

    def context_scores(model):
        model.eval()
        with torch.no_grad():
            h = model.embed(task.data).logits
            return torch.sigmoid(model.score(h[anchors].unsqueeze(1).expand(-1, context.size(1), -1),
                                             h[context])).squeeze(-1)

    target = context_scores(teacher.model)
    assert rank_loss(context_scores(taught.model), target, 0.1) < rank_loss(context_scores(alone.model), target, 0.1)


def test_methods_refuse_link_tasks_they_are_not_built_for_and_llp_refuses_node_tasks(task, teacher, tmp_path):
    with pytest.raises(MismatchError, match=r"method 'glnn' is built for .* not the link task .*link tasks: kd, llp, "
                                            r"none"):
        gkd.train_student(task, teacher, ModelSpec("mlp", hidden=8), "glnn", CONFIG)
    node = gkd.data.load("synthetic")
    torch.save(torch.randn(node.num_items, node.num_classes), tmp_path / "node.pt")
    node_teacher = gkd.teacher_from_logits(node, tmp_path / "node.pt")
    with pytest.raises(MismatchError, match=r"method 'llp' is built for link tasks, not the node task"):
        gkd.train_student(node, node_teacher, ModelSpec("mlp", hidden=8), "llp", CONFIG)
    torch.save(teacher.logits, tmp_path / "link.pt")
    logits_only = gkd.teacher_from_logits(task, tmp_path / "link.pt")
    with pytest.raises(MismatchError, match="runs the teacher on the pairs it samples, and this teacher is logits"):
        gkd.train_student(task, logits_only, ModelSpec("mlp", hidden=8), "kd", CONFIG)
    with pytest.raises(MismatchError, match="model 'cpf' cannot encode the nodes of link task"):
        ModelSpec("cpf").build(task)


@pytest.mark.parametrize("name", ["mlp", "sage"])
def test_a_saved_link_model_scores_pairs_as_the_trained_one(task, tmp_path, name):
    """Saved and loaded with no dataset: the MLP scores pairs from their end nodes' features
    alone; the GNN reads the graph too. Bad pairs are refused in one line."""
    model = ModelSpec(name, hidden=8, options=(("decoder_layers", 3),)).build(task)
    gkd.save(tmp_path / name, model, task)
    saved = gkd.load(tmp_path / name)
    assert saved.inputs == (["x", "pairs"] if name == "mlp" else ["x", "edge_index", "pairs"])
    assert saved.info["link"] == {"hidden": 8, "decoder": "mlp", "decoder_layers": 3, "dropout": 0.0}
    test = task.split["test"][:40]
    expected = gkd.predict(model, task, index=test)
    pairs = task.data.pairs[:, test]
    if name == "mlp":
        ends, rows = pairs.reshape(-1).unique(return_inverse=True)
        got = saved.predict(task.data.x[ends], pairs=rows.view(2, -1))
    else:
        got = saved.predict(task.data.x, task.data.edge_index, pairs=pairs)
    assert torch.allclose(got, expected, atol=1e-6)
    with pytest.raises(MismatchError, match=r"pairs must be 2 x B rows of x"):
        saved.predict(task.data.x, task.data.edge_index, pairs=pairs.T)
    with pytest.raises(ValueError, match="needs .*pairs"):
        saved.predict(task.data.x, task.data.edge_index)
    with pytest.raises(UnsupportedModuleError, match="a link model exports as its encoder"):
        gkd.export.TensorModel(model)


@pytest.mark.parametrize("name", ["sage", "mlp"])
def test_unseen_pairs_scored_as_deployed_equal_the_full_graph_scores(name):
    """``score_pairs`` gathers only the end nodes' neighbourhoods (a GNN) or features (an MLP)."""
    task = gkd.data.load("synthetic-link", split="production", seed=2)
    model = ModelSpec(name, hidden=16).build(task).eval()
    test = task.split["test"][:50]
    deployed = gkd.train.score_pairs(model, task, task.data.pairs[:, test])
    assert torch.allclose(deployed, gkd.predict(model, task, index=test), atol=1e-5)

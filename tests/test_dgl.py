"""DGL interoperability. CI runs this file in its own environment with DGL installed and
GKD_REQUIRE_DGL=1, so a DGL break fails there instead of hiding behind a skip; elsewhere it skips
when DGL is absent."""
import os

import pytest
import torch

if os.environ.get("GKD_REQUIRE_DGL") == "1":
    import dgl  # noqa: F401  (must import in the DGL environment)
else:
    dgl = pytest.importorskip("dgl")

from torch import nn  # noqa: E402
from torch_geometric.data import Data  # noqa: E402

import gkd  # noqa: E402
from gkd import ModelSpec, TrainConfig  # noqa: E402
from gkd.data import load  # noqa: E402
from gkd.graph.sampling import NeighbourSampler  # noqa: E402
from gkd.interop.dgl import DGLNeighbourSampler, dgl_model, from_dgl, to_dgl  # noqa: E402
from gkd.train.sampler import make_sampler  # noqa: E402


class SageStack(nn.Module):
    """A plain DGL model: two SAGEConv layers, called as model(graph, features)."""

    def __init__(self, d_in: int, hidden: int, classes: int):
        super().__init__()
        from dgl.nn import SAGEConv

        self.layers = nn.ModuleList([SAGEConv(d_in, hidden, "mean"), SAGEConv(hidden, classes, "mean")])

    def forward(self, graph, x):
        h = torch.relu(self.layers[0](graph, x))
        return self.layers[1](graph, h)


def test_a_task_goes_to_dgl_and_back_unchanged():
    task = load("synthetic")
    graph = to_dgl(task)
    assert graph.num_nodes() == task.num_items and graph.num_edges() == task.data.edge_index.size(1)
    back = from_dgl(graph, name="synthetic")
    assert torch.equal(back.data.edge_index, task.data.edge_index)
    assert torch.equal(back.data.x, task.data.x) and torch.equal(back.data.y, task.data.y)
    assert all(torch.equal(back.split[k], task.split[k]) for k in ("train", "valid", "test"))
    assert back.num_classes == task.num_classes


def test_from_dgl_names_what_is_missing():
    graph = dgl.graph((torch.tensor([0, 1]), torch.tensor([1, 2])))
    graph.ndata["h"] = torch.randn(3, 2)
    with pytest.raises(KeyError, match="features"):
        from_dgl(graph)
    graph.ndata["feat"], graph.ndata["label"] = graph.ndata["h"], torch.tensor([0, 1, 0])
    with pytest.raises(KeyError, match="split="):
        from_dgl(graph)
    task = from_dgl(graph, split={"train": torch.tensor([0]), "valid": torch.tensor([1]), "test": torch.tensor([2])})
    assert task.num_classes == 2


def test_a_dgl_model_exposes_named_layers_and_matches_its_own_call():
    task = load("synthetic")
    module = SageStack(task.num_features, 16, task.num_classes)
    model = dgl_model(module, hidden=["layers.0"])
    out = model(task.data)
    assert out.logits.shape == (task.num_items, task.num_classes) and out.hidden[0].shape == (task.num_items, 16)
    assert torch.allclose(out.logits, module(to_dgl(task), task.data.x), atol=1e-6)
    with pytest.raises(ValueError, match="layers.0"):
        dgl_model(module, hidden=["layer0"])


def test_glnn_from_a_dgl_teacher_into_a_gkd_mlp():
    task = load("synthetic")
    config = TrainConfig(epochs=60, lr=0.01, patience=60)
    torch.manual_seed(0)
    teacher = gkd.fit(dgl_model(SageStack(task.num_features, 32, task.num_classes), hidden=["layers.0"]),
                      task, config)
    student = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=64), "glnn", config)
    alone = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=64), "none", config)
    assert teacher.scores["test"] > 0.8
    assert student.scores["test"] > alone.scores["test"] + 0.05  # the DGL teacher's knowledge reached the MLP
    fitnet = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=64), "fitnet", config)  # hidden layers too
    assert fitnet.scores["test"] > 0.3


def _random_data(n: int = 60, e: int = 600, seed: int = 0) -> Data:
    """A small graph with no self-loops and no duplicate edges ("distinct neighbours" is checkable)."""
    g = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n, (2, e), generator=g)
    edges = torch.unique(edges[:, edges[0] != edges[1]], dim=1)
    return Data(x=torch.randn(n, 4, generator=g), edge_index=edges, y=torch.arange(n) % 3)


def _in_neighbours(edges: torch.Tensor, node: int) -> set[int]:
    return set(edges[0, edges[1] == node].tolist())


def test_make_sampler_takes_dgls_sampler_when_dgl_imports():
    data = _random_data()
    assert type(make_sampler(data, [3, 3], batch_size=8)) is DGLNeighbourSampler
    assert type(make_sampler(data, [3, 3], batch_size=8, backend="dgl")) is DGLNeighbourSampler
    assert type(make_sampler(data, [3, 3], batch_size=8, backend="gkd")) is NeighbourSampler
    with pytest.raises(ValueError, match="fanouts"):
        DGLNeighbourSampler(data, [3, -2], batch_size=8)
    with pytest.raises(ValueError, match="batch_size"):
        DGLNeighbourSampler(data, [3], batch_size=0)


@pytest.mark.parametrize("fanouts", [[1, 2], [3, 3], [10, 4], [-1, 2]])
def test_dgl_sampler_keeps_real_distinct_in_neighbours_up_to_the_fanout_at_every_hop(fanouts):
    data = _random_data()
    edges, real = data.edge_index, {tuple(e) for e in data.edge_index.t().tolist()}
    sampler = DGLNeighbourSampler(data, fanouts, batch_size=5, nodes=torch.tensor([0, 5, 7, 59, 13]), shuffle=False)
    (batch,) = list(sampler)
    assert torch.equal(batch.n_id[:5], sampler.nodes) and batch.n_id.unique().numel() == batch.n_id.numel()
    assert torch.equal(batch.x, data.x[batch.n_id]) and torch.equal(batch.y, data.y[batch.n_id])
    sampled = [tuple(e) for e in batch.n_id[batch.edge_index].t().tolist()]
    assert set(sampled) <= real and len(sampled) == len(set(sampled))  # real edges, none twice
    hop, reached, expected_edges = sampler.nodes.tolist(), set(sampler.nodes.tolist()), 0
    for fanout in fanouts:  # the nodes first reached at hop l - 1 sample min(fanout, in-degree) at hop l
        for node in hop:
            mine = [s for s, d in sampled if d == node]
            degree = len(_in_neighbours(edges, node))
            assert len(mine) == (degree if fanout < 0 else min(fanout, degree))
            expected_edges += len(mine)
        hop = sorted({s for s, d in sampled if d in hop} - reached)
        reached |= set(hop)
    assert reached == set(batch.n_id.tolist()) and len(sampled) == expected_edges  # the last hop is not expanded


def test_dgl_sampler_covers_the_seeds_once_in_gkds_order_and_follows_the_seed():
    data = _random_data()
    nodes = torch.arange(0, 60, 2)
    first = list(DGLNeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5))
    again = list(DGLNeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5))
    other = list(DGLNeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=6))
    own = list(NeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5))
    assert len(first) == 4 == len(DGLNeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes))
    covered = torch.cat([b.n_id[: b.batch_size] for b in first])
    assert sorted(covered.tolist()) == nodes.tolist()
    for a, b, mine in zip(first, again, own):
        assert torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index)
        assert torch.equal(a.n_id[: a.batch_size], mine.n_id[: mine.batch_size])  # the same seed batches
    assert any(not torch.equal(a.n_id, b.n_id) or not torch.equal(a.edge_index, b.edge_index)
               for a, b in zip(first, other))
    sampler = DGLNeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5)
    epoch0 = list(sampler)
    dgl.seed(123)  # other use of DGL's generator between epochs changes nothing
    epoch1 = list(sampler)
    assert all(torch.equal(a.n_id, b.n_id) for a, b in zip(epoch0, first))
    assert not all(torch.equal(a.n_id, b.n_id) for a, b in zip(epoch0, epoch1))  # a new epoch, new batches
    replay = DGLNeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5)
    list(replay)
    assert all(torch.equal(a.edge_index, b.edge_index) for a, b in zip(epoch1, list(replay)))


def test_with_every_neighbour_kept_dgls_subgraph_gives_the_seeds_their_full_graph_outputs():
    from gkd import ModelSpec

    task = load("synthetic")
    model = ModelSpec("sage", hidden=16, num_layers=2).build(task).eval()
    seeds = torch.tensor([5, 17, 400, 1999])
    (batch,) = list(DGLNeighbourSampler(task.data, [-1, -1], batch_size=4, nodes=seeds, shuffle=False))
    with torch.no_grad():
        full = model(task.data).logits[seeds]
        sampled = model(batch).logits[: batch.batch_size]
    assert torch.equal(batch.n_id[:4], seeds)
    assert torch.allclose(sampled, full, atol=1e-5)


def test_the_latency_benchmarks_dgl_stack_computes_gkds_sage():
    """benchmarks.latency times like against like: its DGL SAGEConv stack, given the weights of
    gkd's SAGE, gives the same outputs."""
    from benchmarks.latency import DglSAGE, dgl_graph

    task = load("synthetic")
    ours = gkd.models.SAGE(task.num_features, 16, task.num_classes, num_layers=3).eval()
    graph, why = dgl_graph(task.data)
    assert graph is not None, why
    theirs = DglSAGE(graph, task.num_features, 16, task.num_classes, 3).eval()
    with torch.no_grad():
        for layer, conv in zip(ours.layers, theirs.convs):
            conv.fc_self.load_state_dict(layer.self_lin.state_dict())  # both: W_self with the bias
            conv.fc_neigh.load_state_dict(layer.neigh_lin.state_dict())
        assert torch.allclose(theirs(task.data), ours(task.data).logits, atol=1e-5)


def test_a_saved_dgl_model_teaches_without_retraining(tmp_path):
    task = load("synthetic")
    torch.manual_seed(0)
    module = SageStack(task.num_features, 16, task.num_classes)
    trained = gkd.fit(dgl_model(module, hidden=["layers.0"]), task, TrainConfig(epochs=10))
    torch.save(module.state_dict(), tmp_path / "dgl_sage.pt")
    fresh = SageStack(task.num_features, 16, task.num_classes)  # other weights until the checkpoint loads
    teacher = gkd.teacher_from_model(task, dgl_model(fresh, hidden=["layers.0"]), checkpoint=tmp_path / "dgl_sage.pt")
    assert torch.allclose(teacher.logits, trained.logits, atol=1e-6)
    assert teacher.scores["test"] == pytest.approx(trained.scores["test"])
    student = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=32), "glnn", TrainConfig(epochs=20))
    assert student.scores["test"] > 1.0 / task.num_classes + 0.1  # it learnt from the loaded teacher

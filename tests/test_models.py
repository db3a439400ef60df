"""Models: the CSR path agrees with PyG's per-edge layers; wrappers expose hidden layers."""
import pytest
import torch
from torch_geometric.data import Batch as PygBatch
from torch_geometric.data import Data
from torch_geometric.nn import GCNConv, SAGEConv

import gkd
from gkd.graph.adjacency import SparseAdjacency
from gkd.models.gcn import GCNLayer
from gkd.models.sage import SAGEGCNLayer, SAGELayer


def _graph(n=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(n, (2, 20), generator=gen)
    ei = ei[:, ei[0] != ei[1]]
    return Data(x=torch.randn(n, 5, generator=gen), edge_index=ei, num_nodes=n)


def test_csr_product_gradient_matches_finite_differences():
    g = _graph()
    adj = SparseAdjacency(g.edge_index, g.num_nodes, "mean")
    adj.matrix = adj.matrix.double()  # A^T follows from it on the first backward
    x = torch.randn(g.num_nodes, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda h: adj @ h, (x,))


@pytest.mark.parametrize("out_dim", [3, 9])  # both aggregation orders
def test_sage_layer_equals_pyg_sageconv(out_dim):
    g = _graph()
    ours, ref = SAGELayer(5, out_dim), SAGEConv(5, out_dim, aggr="mean")
    ref.lin_l.weight.data.copy_(ours.neigh_lin.weight.data)
    ref.lin_l.bias.data.copy_(ours.self_lin.bias.data)
    ref.lin_r.weight.data.copy_(ours.self_lin.weight.data)
    assert torch.allclose(ours(g.x, g), ref(g.x, g.edge_index), atol=1e-5)


@pytest.mark.parametrize("out_dim", [3, 9])  # both aggregation orders
def test_sage_gcn_layer_is_one_weight_over_the_mean_of_a_node_and_its_neighbours(out_dim):
    g = _graph()
    ours = SAGEGCNLayer(5, out_dim)
    # PyG's SAGEConv without its root weight, on the graph with a self-loop per node: the same map
    ref = SAGEConv(5, out_dim, aggr="mean", root_weight=False)
    ref.lin_l.weight.data.copy_(ours.lin.weight.data)
    ref.lin_l.bias.data.copy_(ours.lin.bias.data)
    loops = torch.arange(g.num_nodes)
    with_loops = torch.cat([g.edge_index, torch.stack([loops, loops])], dim=1)
    assert torch.allclose(ours(g.x, g), ref(g.x, with_loops), atol=1e-5)
    # by hand for node 0: the mean over itself and its in-neighbours, then the map
    src, dst = g.edge_index
    members = torch.cat([src[dst == 0], torch.tensor([0])])
    expected = ours.lin(g.x[members].mean(0))
    assert torch.allclose(ours(g.x, g)[0], expected, atol=1e-5)


def test_gcn_layer_equals_pyg_gcnconv():
    g = _graph()
    ours, ref = GCNLayer(5, 4), GCNConv(5, 4)
    ref.lin.weight.data.copy_(ours.lin.weight.data)
    ours.bias.data.normal_()
    ref.bias.data.copy_(ours.bias.data)
    assert torch.allclose(ours(g.x, g), ref(g.x, g.edge_index), atol=1e-5)


def test_every_model_returns_outputs_with_hidden_layers():
    task = gkd.data.load("synthetic")
    for name, cls in gkd.models.MODELS.items():  # the layer stacks ("cpf" has its own test file)
        if not issubclass(cls, gkd.models.LayerStack) or name == "gine":
            continue  # gine: needs edge features, which this task lacks (tests/test_gine.py)
        out = gkd.models.build(name, task, hidden=16, num_layers=3)(task.data)
        assert out.logits.shape == (2000, 6), name
        assert [h.shape for h in out.hidden] == [(2000, 16)] * 2, name


def test_graph_models_pool_per_graph():
    task = gkd.data.load("synthetic-graphs")
    batch = PygBatch.from_data_list(task.data[:4])
    out = gkd.models.build("gin", task, hidden=16, num_layers=2)(batch)
    assert out.logits.shape == (4, 3) and out.pooled.shape == (4, 16)
    first = out.hidden[-1][batch.batch == 0].mean(0)
    assert torch.allclose(out.pooled[0], first, atol=1e-6)


class _UserModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = GCNConv(5, 8), GCNConv(8, 3)

    def forward(self, x, edge_index):
        return self.conv2(torch.relu(self.conv1(x, edge_index)), edge_index)


def test_hooked_model_exposes_named_layers_of_a_pyg_model():
    g, user = _graph(), _UserModel()
    wrapped = gkd.models.HookedModel(user, hidden=["conv1"])
    out = wrapped(g)
    assert torch.allclose(out.logits, user(g.x, g.edge_index))
    assert torch.allclose(out.hidden[0], user.conv1(g.x, g.edge_index))


def test_hooked_model_unknown_layer_lists_valid_names():
    with pytest.raises(ValueError, match="conv1"):
        gkd.models.HookedModel(_UserModel(), hidden=["conv3"])


def _node_task(g: Data) -> gkd.Task:
    split = {"train": torch.arange(4), "valid": torch.arange(4, 6), "test": torch.arange(6, g.num_nodes)}
    labelled = Data(x=g.x, edge_index=g.edge_index, y=torch.arange(g.num_nodes) % 3, num_nodes=g.num_nodes)
    return gkd.Task(name="tiny", kind="node", data=labelled, split=split, num_classes=3)


@pytest.mark.parametrize("name", ["sage", "gcn", "gin"])
def test_the_first_layer_aggregates_the_input_features_once(name):
    from gkd.models.aggregating import propagated_features

    g = _graph()
    model = gkd.ModelSpec(name, hidden=16, num_layers=2).build(_node_task(g))  # 5 -> 16: no map before the product
    first = model(g).logits
    cached = g.__dict__["_gkd_propagated"]
    assert len(cached) == 1
    product = next(iter(cached.values()))
    assert propagated_features(g, model.layers[0].norm) is product  # the second call reuses it
    fresh = _graph()
    assert torch.allclose(model(fresh).logits, first, atol=1e-6)
    first.sum().backward()
    assert all(p.grad is not None for p in model.layers[0].parameters())
    g.x.mul_(2)  # features changed in place: the product is recomputed
    doubled = model(g).logits
    fresh = model(Data(x=g.x.clone(), edge_index=g.edge_index, num_nodes=g.num_nodes)).logits
    assert not torch.allclose(doubled, first) and torch.allclose(doubled, fresh, atol=1e-5)

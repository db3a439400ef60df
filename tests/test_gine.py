"""GIN with edge features (gkd.models.gine): the layer against a hand computation, bond features
really used, trains on the OGB molecule fixture, and a clear error without edge features."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from test_ogb import MOL_EDGES, make_mol
from torch import nn
from torch_geometric.data import Batch as PygBatch
from torch_geometric.data import Data

import gkd
from gkd import ModelSpec, TrainConfig
from gkd.data.ogb import load_ogb_graph
from gkd.errors import MismatchError
from gkd.models.gine import GINE, GINELayer

os.environ.setdefault("OUTDATED_IGNORE", "1")
from ogb.utils.features import get_bond_feature_dims  # noqa: E402


def _path_graph() -> Data:
    """0 - 1 - 2, both directions, edge features in two integer columns (3 and 2 values)."""
    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    edge_attr = torch.tensor([[1, 0], [1, 0], [2, 1], [0, 1]])
    x = torch.tensor([[1.0, -2.0], [0.0, 1.0], [-1.0, 3.0]])
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr, num_nodes=3)


def test_layer_matches_hand_computation():
    g = _path_graph()
    layer = GINELayer(2, 2, edge_sizes=[3, 2])
    with torch.no_grad():
        layer.edge_encoder.tables[0].weight.copy_(torch.tensor([[0.0, 0.0], [1.0, -1.0], [-2.0, 0.5]]))
        layer.edge_encoder.tables[1].weight.copy_(torch.tensor([[0.5, 0.5], [0.0, -3.0]]))
        layer.eps.fill_(0.5)
    # edge embeddings: 0->1 and 1->0: [1.5, -0.5]; 1->2: [-2, -2.5]; 2->1: [0, -3]
    # messages relu(h_j + e): 0->1 [2.5, 0]; 1->0 [1.5, 0.5]; 1->2 [0, 0]; 2->1 [0, 0]
    # 1.5 h_i + sum: node 0 [1.5, -3] + [1.5, 0.5]; node 1 [0, 1.5] + [2.5, 0]; node 2 [-1.5, 4.5]
    expected = torch.tensor([[3.0, -2.5], [2.5, 1.5], [-1.5, 4.5]])
    assert torch.allclose((1 + layer.eps) * g.x + layer.aggregate(g.x, g), expected)
    layer.eval()
    assert torch.allclose(layer(g.x, g), layer.mlp(expected), atol=1e-6)
    layer.mlp = nn.Identity()
    assert torch.allclose(layer(g.x, g), expected)


def test_float_edge_features_use_a_linear_encoder():
    g = _path_graph()
    g.edge_attr = g.edge_attr.float()
    layer = GINELayer(2, 2, edge_dim=2)
    layer.mlp = nn.Identity()
    e = layer.edge_encoder(g.edge_attr)
    src, dst = g.edge_index
    expected = g.x.clone()
    for k in range(4):  # the reference: one edge at a time
        expected[dst[k]] += torch.relu(g.x[src[k]] + e[k])
    assert torch.allclose(layer(g.x, g), expected, atol=1e-6)


@pytest.fixture
def mol_task(tmp_path: Path) -> gkd.Task:
    make_mol(tmp_path)
    return load_ogb_graph("ogbg-molhiv", tmp_path)


def test_fixture_task_has_bond_vocabulary_and_graphs_keep_edge_attr(mol_task):
    assert mol_task.edge_categorical_sizes == list(get_bond_feature_dims()) and mol_task.num_edge_features == 3
    graphs = mol_task.indexed_graphs()
    assert all(torch.equal(c.edge_attr, g.edge_attr) for c, g in zip(graphs, mol_task.data))
    batch = PygBatch.from_data_list(graphs)
    assert batch.edge_attr.shape == (2 * sum(map(len, MOL_EDGES)), 3)


def test_bond_features_change_the_output(mol_task):
    torch.manual_seed(0)
    model = ModelSpec("gine", hidden=16, num_layers=5, dropout=0.5, norm="batch").build(mol_task).eval()
    assert isinstance(model, GINE) and len(model.layers) == 5
    batch = PygBatch.from_data_list(mol_task.indexed_graphs())
    with torch.no_grad():
        before = model(batch).logits
        again = model(batch).logits
        sizes = torch.tensor(mol_task.edge_categorical_sizes)
        batch.edge_attr = (batch.edge_attr + 1) % sizes
        after = model(batch).logits
    assert torch.equal(before, again)
    bonded = torch.tensor([len(e) > 0 for e in MOL_EDGES])
    assert (before - after)[bonded].abs().min() > 1e-6  # every molecule with a bond moves
    assert torch.allclose(before[~bonded], after[~bonded])  # the lone atom does not


def test_trains_on_the_ogb_fixture(mol_task):
    # both classes in valid and test, so that ROC-AUC is defined on this tiny set
    mol_task.split = {"train": torch.tensor([0, 1, 2, 3]), "valid": torch.tensor([4, 5]), "test": torch.tensor([1, 2])}
    spec = ModelSpec("gine", hidden=16, num_layers=5, dropout=0.5, norm="batch")
    result = gkd.train_teacher(mol_task, spec, TrainConfig(epochs=2, batch_size=2, patience=5), use_cache=False)
    assert result.logits.shape == (6, 1) and torch.isfinite(result.logits).all()
    assert len(result.history) == 2 and all(torch.isfinite(torch.tensor(h["ce"])) for h in result.history)


def test_clear_error_without_edge_features():
    task = gkd.data.load("synthetic-graphs")
    with pytest.raises(MismatchError, match="'gine'.*no edge features"):
        ModelSpec("gine", hidden=8).build(task)
    g = _path_graph()
    model = GINE(2, 8, 3, num_layers=2, level="graph", edge_categorical_sizes=[3, 2])
    del g.edge_attr
    with pytest.raises(MismatchError, match="'gine'.*no edge_attr"):
        model(g)
    with pytest.raises(MismatchError, match="'gine'.*needs edge features"):
        GINE(2, 8, 3)

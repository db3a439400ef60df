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

import gkd  # noqa: E402
from gkd import ModelSpec, TrainConfig  # noqa: E402
from gkd.data import load  # noqa: E402
from gkd.interop.dgl import dgl_model, from_dgl, to_dgl  # noqa: E402


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

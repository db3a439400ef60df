"""Layer-wise inference equals the full-graph forward, and runs where a forward would."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd.errors import UnsupportedModuleError
from gkd.graph.adjacency import SparseAdjacency
from gkd.models.base import supports_row_blocks
from gkd.models.layerwise import layerwise_forward


def _graph(n: int = 37, features: int = 6, seed: int = 0) -> Data:
    gen = torch.Generator().manual_seed(seed)
    ei = torch.randint(n, (2, 150), generator=gen)
    ei = ei[:, ei[0] != ei[1]]
    return Data(x=torch.randn(n, features, generator=gen), edge_index=ei, num_nodes=n,
                y=torch.randint(3, (n,), generator=gen))


def _task(data: Data) -> gkd.Task:
    n = data.num_nodes
    idx = torch.randperm(n, generator=torch.Generator().manual_seed(1))
    split = {"train": idx[: n // 2], "valid": idx[n // 2: 3 * n // 4], "test": idx[3 * n // 4:]}
    return gkd.Task(name="tiny", kind="node", data=data, split=split, num_classes=3)


@pytest.mark.parametrize("name,norm", [("sage", None), ("gcn", None), ("gin", "batch"), ("sage", "batch")])
@pytest.mark.parametrize("block_rows", [1, 5, 1000])
def test_layerwise_equals_the_full_forward(name, norm, block_rows):
    data = _graph()
    torch.manual_seed(0)
    # widths 6 -> 16 -> 16 -> 3 and 6 -> 4 -> 3: both sides of each layer's aggregation order
    for hidden in (16, 4):
        model = gkd.ModelSpec(name, hidden=hidden, num_layers=3, norm=norm).build(_task(data))
        model.train()
        for _ in range(2):  # move batch-norm running statistics away from their start
            model(data)
        model.eval()
        with torch.no_grad():
            full = model(data)
        blocks = layerwise_forward(model, data, block_rows=block_rows, keep_hidden=True)
        assert torch.allclose(blocks.logits, full.logits, atol=1e-5)
        assert len(blocks.hidden) == len(full.hidden) == 2
        for ours, theirs in zip(blocks.hidden, full.hidden):
            assert torch.allclose(ours, theirs, atol=1e-5)


def test_rows_of_the_adjacency_are_the_matrix_rows():
    data = _graph()
    adj = SparseAdjacency(data.edge_index, data.num_nodes, "mean")
    dense = adj.matrix.to_dense()
    for start, end in [(0, 5), (5, 37), (36, 37), (10, 10)]:
        assert torch.equal(adj.rows(start, end).to_dense(), dense[start:end])


def test_unsupported_models_are_refused_by_name():
    data = _graph()
    task = _task(data)
    gat = gkd.ModelSpec("gat", hidden=8).build(task)
    mlp = gkd.ModelSpec("mlp", hidden=8).build(task)
    assert supports_row_blocks(gkd.ModelSpec("sage").build(task))
    assert not supports_row_blocks(gat) and not supports_row_blocks(mlp)
    with pytest.raises(UnsupportedModuleError, match="GAT"):
        layerwise_forward(gat, data)
    with pytest.raises(ValueError, match="block_rows"):
        layerwise_forward(gkd.ModelSpec("sage").build(task), data, block_rows=0)


def test_predict_goes_layerwise_with_sampling_and_gives_the_same_logits(monkeypatch):
    data = _graph()
    task = _task(data)
    model = gkd.ModelSpec("sage", hidden=8).build(task)
    full = gkd.predict(model, task, gkd.TrainConfig())
    calls = []
    import gkd.train.inference as train_module
    real = train_module.layerwise_forward
    monkeypatch.setattr(train_module, "layerwise_forward", lambda *a, **k: calls.append(1) or real(*a, **k))
    sampled = gkd.predict(model, task, gkd.TrainConfig(fanouts=(5, 5)))
    assert calls and torch.allclose(sampled, full, atol=1e-5)
    gkd.predict(model, task, gkd.TrainConfig(fanouts=(5, 5), layerwise=False))
    assert len(calls) == 1  # switched off
    with pytest.raises(UnsupportedModuleError):
        gkd.predict(gkd.ModelSpec("gat", hidden=8).build(task), task, gkd.TrainConfig(layerwise=True))


def test_the_teacher_cache_key_ignores_the_inference_mode():
    task = _task(_graph())
    spec, config = gkd.ModelSpec("sage"), gkd.TrainConfig()
    layerwise = replace(config, layerwise=True)
    assert gkd.train.teacher_key(task, spec, config, 0) == gkd.train.teacher_key(task, spec, layerwise, 0)


def test_a_features_only_model_predicts_in_blocks_of_rows(monkeypatch):
    import gkd.train.inference as train_module

    data = _graph()
    task = _task(data)
    mlp = gkd.ModelSpec("mlp", hidden=8, num_layers=3, norm="batch").build(task)
    mlp.train()
    mlp(data)  # running statistics away from their start
    mlp.eval()
    with torch.no_grad():
        whole = mlp(data).logits
    monkeypatch.setattr(train_module, "NODE_BLOCK_ROWS", 5)  # 37 nodes: 8 blocks
    assert torch.allclose(gkd.predict(mlp, task), whole, atol=1e-6)
    index = torch.tensor([3, 30, 0, 12, 7, 36, 1])
    assert torch.allclose(gkd.predict(mlp, task, index=index), whole[index], atol=1e-6)

"""Trimming a sampled subgraph per layer: the seeds' outputs and gradients are those of the
untrimmed forward, each layer computes only the nodes the seeds still depend on, and sampled
training with and without trimming learns the same model."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch_geometric.data import Data

import gkd
from gkd.distill import get as get_distiller
from gkd.graph.adjacency import SparseAdjacency
from gkd.graph.sampling import NeighbourSampler


def _data(n: int = 300, e: int = 2400, features: int = 8, seed: int = 0) -> Data:
    gen = torch.Generator().manual_seed(seed)
    edges = torch.randint(n, (2, e), generator=gen)
    edges = edges[:, edges[0] != edges[1]]
    return Data(x=torch.randn(n, features, generator=gen), edge_index=edges, num_nodes=n,
                y=torch.randint(3, (n,), generator=gen))


def _task(data: Data) -> gkd.Task:
    idx = torch.randperm(data.num_nodes, generator=torch.Generator().manual_seed(1))
    split = {"train": idx[:150], "valid": idx[150:225], "test": idx[225:]}
    return gkd.Task(name="tiny-trim", kind="node", data=data, split=split, num_classes=3)


def _batch(data: Data, fanouts: list[int]) -> Data:
    sampler = NeighbourSampler(data, fanouts, batch_size=7, seed=3)
    return next(iter(sampler))


@pytest.mark.parametrize("name", ["sage", "gcn", "gin"])
@pytest.mark.parametrize("hidden", [16, 4])  # both sides of each layer's aggregation order
def test_trimmed_seed_outputs_and_gradients_equal_the_untrimmed_ones(name, hidden):
    data = _data()
    torch.manual_seed(0)
    model = gkd.ModelSpec(name, hidden=hidden, num_layers=3).build(_task(data))
    # GIN's layers hold a BatchNorm: in training mode its statistics are those of the rows computed
    model.train(name != "gin")
    batch = _batch(data, [4, 3, 2])
    results = []
    for trim in (False, True):
        batch.trim_to_layer = trim
        model.zero_grad()
        out = model(batch)
        seeds = out.logits[: batch.batch_size]
        seeds.square().sum().backward()
        results.append((out, seeds.detach(), [p.grad.clone() for p in model.parameters()]))
    (full, full_seeds, full_grads), (trimmed, trimmed_seeds, trimmed_grads) = results
    assert full.logits.size(0) == batch.num_nodes and trimmed.logits.size(0) == batch.batch_size
    assert torch.allclose(trimmed_seeds, full_seeds, atol=1e-5)
    for ours, theirs in zip(trimmed_grads, full_grads):
        assert torch.allclose(ours, theirs, atol=1e-5)
    # layer l computes the nodes within 3 - 1 - l hops: hidden layers 0 and 1 cover hops 0..2 and 0..1
    hops = batch.num_sampled_nodes
    assert [h.size(0) for h in trimmed.hidden] == [sum(hops[:3]), sum(hops[:2])]
    assert all(torch.allclose(t, f[: t.size(0)], atol=1e-5) for t, f in zip(trimmed.hidden, full.hidden))


def test_trimming_needs_the_mark_and_a_rowwise_model():
    data = _data()
    batch = _batch(data, [4, 3])
    sage = gkd.ModelSpec("sage", hidden=8).build(_task(data))
    gat = gkd.ModelSpec("gat", hidden=8).build(_task(data))
    assert sage(batch).logits.size(0) == batch.num_nodes  # not marked: every row
    batch.trim_to_layer = True
    assert sage(batch).logits.size(0) == batch.batch_size
    assert gat(batch).logits.size(0) == batch.num_nodes  # GAT's attention is not one product: untrimmed


def test_a_leading_block_refuses_rows_that_read_beyond_its_columns():
    edges = torch.tensor([[1, 2, 0], [0, 1, 2]])  # 1 -> 0, 2 -> 1, 0 -> 2
    adj = SparseAdjacency(edges, 3, "sum")
    block = adj.leading(2, 3)
    assert torch.equal(block.matrix.to_dense(), adj.matrix.to_dense()[:2])
    assert torch.equal(adj.leading(1, 2).matrix.to_dense(), torch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match="column 2"):
        adj.leading(2, 2)  # row 1 reads node 2


def test_which_methods_let_the_student_be_trimmed():
    assert all(get_distiller(m).logits_only for m in ("none", "kd", "glnn", "dkd", "rld"))
    assert not any(get_distiller(m).logits_only for m in ("fitnet", "lsp", "nosmog", "krd"))
    assert get_distiller("glnn+kd").logits_only and not get_distiller("glnn+fitnet").logits_only


def test_sampled_training_learns_the_same_model_trimmed_or_not():
    task = _task(_data())
    config = gkd.TrainConfig(epochs=4, patience=4, lr=0.01, fanouts=(4, 3), batch_size=32)
    spec = gkd.ModelSpec("sage", hidden=16)
    plain = gkd.train_teacher(task, spec, replace(config, trim=False), use_cache=False)
    trimmed = gkd.train_teacher(task, spec, config, use_cache=False)
    assert torch.allclose(trimmed.logits, plain.logits, atol=1e-4)
    assert [r["ce"] for r in trimmed.history] == pytest.approx([r["ce"] for r in plain.history], rel=1e-4)
    student = gkd.train_student(task, trimmed, spec, "glnn", config)
    untrimmed = gkd.train_student(task, trimmed, spec, "glnn", replace(config, trim=False))
    assert torch.allclose(student.logits, untrimmed.logits, atol=1e-4)

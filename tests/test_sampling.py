"""gkd's neighbour sampler against the exact fan-out semantics."""
import pytest
import torch
from torch_geometric.data import Data

from gkd.graph.sampling import NeighbourSampler, in_neighbour_csr, sample_neighbours, sample_subgraph
from gkd.train.sampler import make_sampler


def _random_graph(n: int = 60, e: int = 600, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    edges = torch.randint(0, n, (2, e), generator=g)
    edges = edges[:, edges[0] != edges[1]]
    return torch.unique(edges, dim=1)  # no duplicate edges: "distinct neighbours" is then checkable


def _in_neighbours(edges: torch.Tensor, node: int) -> set[int]:
    return set(edges[0, edges[1] == node].tolist())


@pytest.mark.parametrize("fanout", [1, 3, 10, -1])
def test_every_sampled_neighbour_is_real_distinct_and_within_the_fanout(fanout):
    edges = _random_graph()
    rowptr, col = in_neighbour_csr(edges, 60)
    nodes = torch.tensor([0, 5, 7, 59, 13])
    src, dst = sample_neighbours(rowptr, col, nodes, fanout, torch.Generator().manual_seed(1))
    for node in nodes.tolist():
        mine = src[dst == node].tolist()
        real = _in_neighbours(edges, node)
        assert set(mine) <= real  # real neighbours only
        assert len(mine) == len(set(mine))  # without replacement
        expected = len(real) if fanout < 0 else min(fanout, len(real))
        assert len(mine) == expected  # exactly the fan-out, or all when fewer


def test_sampling_is_uniform_over_the_neighbours():
    # node 0 has 10 in-neighbours; fan-out 2 over 20,000 draws: each neighbour about 20,000 * 2 / 10 times
    edges = torch.stack([torch.arange(1, 11), torch.zeros(10, dtype=torch.long)])
    rowptr, col = in_neighbour_csr(edges, 11)
    hub = torch.zeros(20_000, dtype=torch.long)
    src, dst = sample_neighbours(rowptr, col, hub, 2, torch.Generator().manual_seed(0))
    counts = torch.bincount(src, minlength=11).float()
    four_sigma = 4 * (4000 * 0.8) ** 0.5
    assert src.numel() == 40_000 and counts[0] == 0 and counts[1:].sub(4000).abs().max() < four_sigma


def test_subgraph_puts_seeds_first_and_keeps_only_sampled_real_edges():
    edges = _random_graph()
    rowptr, col = in_neighbour_csr(edges, 60)
    seeds = torch.tensor([3, 1, 4])
    node_ids, local, hop_sizes = sample_subgraph(rowptr, col, seeds, [4, 2], torch.Generator().manual_seed(0))
    assert torch.equal(node_ids[:3], seeds) and node_ids.unique().numel() == node_ids.numel()
    # nodes are ordered by the hop that first reached them; an edge into hop k comes from hop <= k + 1
    assert hop_sizes[0] == 3 and len(hop_sizes) == 3 and sum(hop_sizes) == node_ids.numel()
    hop_of = torch.repeat_interleave(torch.arange(3), torch.tensor(hop_sizes))
    assert (hop_of[local[1]] < 2).all() and (hop_of[local[0]] <= hop_of[local[1]] + 1).all()
    real = {tuple(e) for e in edges.t().tolist()}
    sampled = [tuple(e) for e in node_ids[local].t().tolist()]
    assert set(sampled) <= real
    # hop 1: each seed keeps min(4, in-degree) in-edges
    for seed in seeds.tolist():
        assert sum(1 for s, d in sampled if d == seed) == min(4, len(_in_neighbours(edges, seed)))
    with pytest.raises(ValueError, match="distinct"):
        sample_subgraph(rowptr, col, torch.tensor([1, 1]), [2])


def test_sampler_batches_cover_the_seed_nodes_once_and_follow_the_seed():
    edges = _random_graph()
    data = Data(x=torch.randn(60, 4), edge_index=edges, y=torch.arange(60) % 3)
    nodes = torch.arange(0, 60, 2)
    first = list(NeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5))
    again = list(NeighbourSampler(data, [3, 3], batch_size=8, nodes=nodes, seed=5))
    assert len(first) == 4
    covered = torch.cat([b.n_id[: b.batch_size] for b in first])
    assert sorted(covered.tolist()) == nodes.tolist()
    for a, b in zip(first, again):
        assert torch.equal(a.n_id, b.n_id) and torch.equal(a.edge_index, b.edge_index)
    batch = first[0]
    assert torch.equal(batch.x, data.x[batch.n_id]) and torch.equal(batch.y, data.y[batch.n_id])
    with pytest.raises(ValueError, match="fanouts"):
        NeighbourSampler(data, [0], batch_size=8)


def test_with_every_neighbour_kept_the_seeds_get_their_full_graph_outputs():
    from gkd import ModelSpec
    from gkd.data import load

    task = load("synthetic")
    model = ModelSpec("sage", hidden=16, num_layers=2).build(task).eval()
    seeds = torch.tensor([5, 17, 400, 1999])
    sampler = NeighbourSampler(task.data, [-1, -1], batch_size=4, nodes=seeds, shuffle=False)
    (batch,) = list(sampler)
    with torch.no_grad():
        full = model(task.data).logits[seeds]
        sampled = model(batch).logits[: batch.batch_size]
    assert torch.allclose(sampled, full, atol=1e-5)


def test_sampled_training_of_teacher_and_student_learns():
    import dataclasses

    import gkd
    from gkd import ModelSpec, TrainConfig
    from gkd.data import load

    task = load("synthetic")
    full_config = TrainConfig(epochs=40, lr=0.01, patience=40)
    sampled_config = dataclasses.replace(full_config, fanouts=(5, 5), batch_size=64)
    spec = ModelSpec("sage", hidden=32, num_layers=2)
    full = gkd.train_teacher(task, spec, full_config, use_cache=False)
    sampled = gkd.train_teacher(task, spec, sampled_config, use_cache=False)
    assert sampled.scores["test"] > full.scores["test"] - 0.08 and sampled.scores["test"] > 0.6
    student = gkd.train_student(task, sampled, ModelSpec("sage", hidden=16, num_layers=2), "kd", sampled_config)
    assert student.scores["test"] > 0.5 and len(student.history) == 40


def test_benchmark_runs_sampled_and_keeps_sampled_runs_apart(tmp_path):
    from benchmarks.run import main
    from gkd.io import read_jsonl

    args = ["--dataset", "synthetic", "--methods", "none", "--students", "sage", "--seeds", "1", "--epochs", "3",
            "--out", str(tmp_path)]
    assert main(args + ["--fanouts", "5,5"]) == 0
    assert main(args) == 0  # full-batch: a different run
    assert [r.get("fanouts") for r in read_jsonl(tmp_path / "results.jsonl")] == [[5, 5], None]
    with pytest.raises(SystemExit):
        main(args + ["--fanouts", "0"])


def test_make_sampler_picks_the_backend(monkeypatch):
    import sys

    from gkd.train.sampler import SAMPLER_BACKENDS, make_sampler

    data = Data(x=torch.randn(60, 4), edge_index=_random_graph(), y=torch.arange(60) % 3)
    own = make_sampler(data, [3, 3], batch_size=8, backend="gkd")
    assert type(own) is NeighbourSampler and own.fanouts == [3, 3] and own.batch_size == 8
    monkeypatch.setitem(sys.modules, "dgl", None)  # DGL absent (`import dgl` fails), in either environment
    fallback = make_sampler(data, [3, 3], batch_size=8, nodes=torch.arange(10), seed=2)
    assert type(fallback) is NeighbourSampler and fallback.seed == 2 and fallback.nodes.numel() == 10
    with pytest.raises(ImportError, match=r'pip install "gkd\[dgl\]".*then pip install "setuptools<70"'):
        make_sampler(data, [3, 3], batch_size=8, backend="dgl")
    with pytest.raises(ValueError, match="'auto', 'gkd', 'dgl'") as error:
        make_sampler(data, [3, 3], batch_size=8, backend="pyg")
    assert all(name in str(error.value) for name in SAMPLER_BACKENDS) and "'pyg'" in str(error.value)
    with pytest.raises(ValueError, match="fanouts"):
        make_sampler(data, [0], batch_size=8, backend="gkd")


def test_importing_gkd_and_its_sampler_does_not_import_dgl():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    code = "import sys, gkd, gkd.graph.sampling, gkd.train.sampler; assert 'dgl' not in sys.modules, 'dgl imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)


def test_zero_hops_give_the_seed_nodes_alone():
    data = Data(x=torch.randn(60, 4), edge_index=_random_graph(), y=torch.arange(60) % 3)
    sampler = NeighbourSampler(data, [], batch_size=16, seed=1)
    batches = list(sampler)
    assert [b.num_nodes for b in batches] == [16, 16, 16, 12]
    assert all(b.edge_index.shape == (2, 0) and b.batch_size == b.num_nodes for b in batches)
    assert sorted(torch.cat([b.n_id for b in batches]).tolist()) == list(range(60))
    assert make_sampler(data, [], batch_size=16, backend="dgl").fanouts == []  # no graph sampler needed


def test_an_mlp_student_trains_on_node_batches_without_neighbours(monkeypatch):
    import gkd
    import gkd.train.loops as train_module
    from gkd import ModelSpec, TrainConfig
    from gkd.data import load

    task = load("synthetic")
    config = TrainConfig(epochs=30, patience=30)
    teacher = gkd.train_teacher(task, ModelSpec("sage", hidden=32), config, use_cache=False)
    seen = []
    real = train_module.make_sampler

    def recording(data, fanouts, *args, **kwargs):
        seen.append(fanouts)
        return real(data, fanouts, *args, **kwargs)

    monkeypatch.setattr(train_module, "make_sampler", recording)
    config = TrainConfig(epochs=30, patience=30, fanouts=(5, 5), batch_size=256)
    mlp = gkd.train_student(task, teacher, ModelSpec("mlp", hidden=64), "glnn", config)
    sage = gkd.train_student(task, teacher, ModelSpec("sage", hidden=16), "glnn", config)
    assert seen == [[], [5, 5]]
    assert mlp.scores["test"] > 0.6 and sage.scores["test"] > 0.6


def test_the_sampler_backend_and_trimming_key_sampled_teachers_only():
    from dataclasses import replace

    from gkd import ModelSpec, TrainConfig
    from gkd.data import load
    from gkd.train import teacher_key

    task, spec = load("synthetic"), ModelSpec("sage")
    full, sampled = TrainConfig(), TrainConfig(fanouts=(5, 5))
    assert teacher_key(task, spec, full, 0) == teacher_key(task, spec, replace(full, sampler="gkd"), 0)
    assert teacher_key(task, spec, sampled, 0) != teacher_key(task, spec, replace(sampled, sampler="gkd"), 0)
    # so does trimming: a full-batch run has nothing to trim
    assert teacher_key(task, spec, full, 0) == teacher_key(task, spec, replace(full, trim=False), 0)
    assert teacher_key(task, spec, sampled, 0) != teacher_key(task, spec, replace(sampled, trim=False), 0)


def test_floyds_subsets_are_uniform_and_distinct():
    from collections import Counter

    from gkd.graph.sampling import distinct_offsets

    offsets = distinct_offsets(torch.full((30_000,), 5), 2, torch.Generator().manual_seed(0))
    assert ((offsets >= 0) & (offsets < 5)).all() and (offsets[:, 0] != offsets[:, 1]).all()
    counts = Counter(tuple(sorted(row)) for row in offsets.tolist())
    assert len(counts) == 10  # every 2-subset of 5
    four_sigma = 4 * (3000 * 0.9) ** 0.5
    assert max(abs(c - 3000) for c in counts.values()) < four_sigma
    mixed = distinct_offsets(torch.tensor([3, 40, 1000]), 3, torch.Generator().manual_seed(1))
    assert all(len(set(row)) == 3 and max(row) < d for row, d in zip(mixed.tolist(), (3, 40, 1000)))

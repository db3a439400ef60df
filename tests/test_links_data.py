"""Link tasks: the two settings' splits, the leak check, the negatives."""
import pytest
import torch

from gkd.data import load
from gkd.data.links import TransductiveShares, link_task, production_split, transductive_split
from gkd.errors import InvalidDataError
from gkd.graph.components import undirected_simple
from gkd.graph.pairs import contains, edge_keys, sample_non_edges


def _pairs(task, split, label=None):
    index = task.split[split]
    if label is not None:
        index = index[task.data.pair_label[index] == label]
    return task.data.pairs[:, index]


def _graph():
    """A ring of 40 nodes with chords: 80 undirected edges."""
    n = 40
    ring = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    chords = torch.stack([torch.arange(n), (torch.arange(n) + 7) % n])
    return torch.randn(n, 3, generator=torch.Generator().manual_seed(0)), torch.cat([ring, chords], dim=1)


@pytest.mark.parametrize("setting", ["transductive", "production"])
def test_no_held_out_edge_is_in_a_graph_training_sees(setting):
    task = load("synthetic-link", split=setting, seed=3)
    n = task.data.num_nodes
    training = edge_keys(task.data.edge_index, n)
    for split in task.split:
        if split == "train":
            continue
        positives = _pairs(task, split, 1)
        assert positives.size(1) > 0
        assert not contains(training, positives, n).any(), split
    if setting == "production":
        inference = edge_keys(task.data.inference_edge_index, n)
        for split in ("test", "test-old-old", "test-old-new", "test-new-new"):
            assert not contains(inference, _pairs(task, split, 1), n).any(), split
        seen = task.data.seen
        assert seen[task.data.edge_index].all()  # the training graph has old nodes only
        assert seen[_pairs(task, "train")].all() and seen[_pairs(task, "valid")].all()
        new_new = _pairs(task, "test-new-new", 1)
        assert (~seen[new_new]).all()
        old_new = _pairs(task, "test-old-new", 1)
        assert (seen[old_new].sum(0) == 1).all()
        # the new nodes' observed edges are in the inference graph and not in the training graph
        touching_new = task.data.inference_edge_index[:, ~seen[task.data.inference_edge_index].all(0)]
        assert touching_new.size(1) > 0 and not contains(training, touching_new, n).any()


def test_every_edge_lands_in_exactly_one_part_of_the_transductive_split():
    x, edges = _graph()
    task = transductive_split("ring", x, edges, seed=0, shares=TransductiveShares(valid=0.1, test=0.2))
    n = x.size(0)
    train = task.data.edge_index
    assert train.size(1) == 2 * (80 - 8 - 16)  # int(0.1 * 80) valid, int(0.2 * 80) test, both directions
    parts = [edge_keys(train, n), edge_keys(_pairs(task, "valid", 1), n), edge_keys(_pairs(task, "test", 1), n)]
    assert [p.numel() for p in parts] == [56, 8, 16]
    assert torch.equal(torch.cat(parts).sort().values, edge_keys(undirected_simple(edges, n), n))
    # one sampled non-edge per held-out edge, none of them an edge of the whole graph
    for split, count in (("valid", 8), ("test", 16)):
        negatives = _pairs(task, split, 0)
        assert negatives.size(1) == count
        assert not contains(edge_keys(edges, n), negatives, n).any()


def test_production_split_by_its_shares():
    x, edges = _graph()
    task = production_split("ring", x, edges, seed=1)
    n = x.size(0)
    assert int((~task.data.seen).sum()) == 12  # 0.3 of 40 nodes are new
    assert task.info["setting"] == "production"
    # every pair of the split's tests is scored on the inference graph, validation on the training graph
    graph_of = task.data.pair_graph
    assert (graph_of[task.split["valid"]] == 0).all() and (graph_of[task.split["test"]] == 1).all()
    # every original edge is a training, validation, held-out-extra (inference only) or test edge
    everything = torch.cat([task.data.inference_edge_index, _pairs(task, "test", 1)], dim=1)
    assert torch.equal(edge_keys(everything, n), edge_keys(undirected_simple(edges, n), n))


def test_splits_follow_the_seed():
    x, edges = _graph()
    a, b = transductive_split("ring", x, edges, seed=5), transductive_split("ring", x, edges, seed=5)
    c = transductive_split("ring", x, edges, seed=6)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()


def test_a_held_out_edge_inside_the_training_graph_is_refused_by_pair():
    x, edges = _graph()
    edges = undirected_simple(edges, 40)
    held_out, neg = torch.tensor([[0], [20]]), torch.tensor([[0], [21]])  # 0 - 20 is not in the graph
    link_task("sound", x, edges, edges, held_out, neg, held_out.flip(0), neg)
    with pytest.raises(InvalidDataError, match=r"split 'test'.*held-out edge 1 - 0 .*training graph"):
        link_task("leaky", x, edges, edges, held_out, neg, torch.tensor([[1], [0]]), neg)


def test_sampled_non_edges_avoid_edges_self_loops_and_repeats():
    x, edges = _graph()
    gen = torch.Generator().manual_seed(0)
    found = sample_non_edges(edges, 40, 300, gen)
    assert found.shape == (2, 300)
    assert (found[0] != found[1]).all() and not contains(edge_keys(edges, 40), found, 40).any()
    assert edge_keys(found, 40).numel() == 300
    with pytest.raises(ValueError, match="only 700 exist"):
        sample_non_edges(edges, 40, 701, gen)  # 40 * 39 / 2 - 80


def test_cora_link_from_disk(shared_root):
    task = load("cora-link", root=shared_root, split="transductive", seed=0)
    assert task.kind == "link" and task.data.num_nodes == 2708 and task.metric == "hits@20"
    # 5,278 undirected edges: 5% valid, 15% test, the rest train (both directions)
    assert task.split["valid"].numel() == 2 * 263 and task.split["test"].numel() == 2 * 791
    assert task.data.edge_index.size(1) == 2 * (5278 - 263 - 791)


def test_the_link_page_pairs_methods_with_the_mlp_alone_and_llp_with_its_teacher():
    from benchmarks import links

    def record(method, seed, test, teacher_test):
        return {"status": "ok", "dataset": "cora-link", "split": "production", "teacher": "sage2x256",
                "student": "mlp2x256", "method": method, "seed": seed, "test": test, "teacher_test": teacher_test}

    records = []
    for seed in range(3):
        records += [record("none", seed, 0.50, 0.70 + 0.01 * seed), record("llp", seed, 0.60 + 0.01 * seed, 0.70)]
    rows = links.paired_rows(records)
    assert [r["against"] for r in rows] == ["the MLP alone", "its teacher (sage2x256)"]
    assert rows[0]["diff"] == pytest.approx(11.0) and rows[0]["excludes_zero"]  # +10, +11, +12
    assert rows[1]["diff"] == pytest.approx(-9.0) and rows[1]["n"] == 3
    assert "| cora-link | production | mlp2x256 | llp | the MLP alone | 3 |" in links.paired_markdown(rows)

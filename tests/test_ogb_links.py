"""OGB link sets (gkd.data.ogb_links) on tiny fixtures written in OGB's own on-disk layout:
raw/*.csv.gz and split/<type>/{train,valid,test}.pt dicts of tensors, as OGB's zips hold them."""
from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import gkd.data
from gkd.errors import DataNotFoundError, InvalidDataError
from gkd.graph.pairs import contains, edge_keys
from gkd.metrics import score_rows
from tests.test_ogb import write_csv

# ogbl-collab fixture: 30 nodes. Training collaborations by year: (0, 1) in 2010 and again in 2011,
# (2, 1) and (1, 2) the same pair, (3, 4) again in 2017 and in the valid year, (5, 6) also in test.
COLLAB_TRAIN = [(0, 1), (0, 1), (1, 2), (2, 1), (2, 3), (3, 4), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 9)]
COLLAB_YEARS = [2010, 2011, 2012, 2013, 2013, 2015, 2017, 2016, 2014, 2017, 2017, 2016]
COLLAB_VALID = [(3, 4), (0, 9), (1, 10), (2, 11)]  # (3, 4) also trains: it leaves the training graph
COLLAB_TEST = [(6, 5), (0, 10), (4, 11)]  # (6, 5) is training pair (5, 6)
NEG_NODES = range(12, 30)


def negatives(count: int, skip: int = 0) -> np.ndarray:
    """``count`` distinct pairs among nodes 12..29 (no fixture edge touches them)."""
    return np.asarray(list(itertools.islice(itertools.combinations(NEG_NODES, 2), skip, skip + count)))


def edges(pairs) -> torch.Tensor:
    return torch.as_tensor(np.asarray(pairs, dtype=np.int64).reshape(-1, 2))


def write_raw(folder: Path, x: np.ndarray, num_edges: int) -> None:
    raw = folder / "raw"
    write_csv(raw / "node-feat.csv.gz", x)
    write_csv(raw / "num-node-list.csv.gz", np.asarray([[x.shape[0]]]))
    write_csv(raw / "num-edge-list.csv.gz", np.asarray([[num_edges]]))


def save_split(folder: Path, split_type: str, parts: dict[str, dict]) -> None:
    base = folder / "split" / split_type
    base.mkdir(parents=True, exist_ok=True)
    for part, content in parts.items():
        torch.save(content, base / f"{part}.pt")


def collab_features() -> np.ndarray:
    return torch.randn(30, 128, generator=torch.Generator().manual_seed(0)).numpy()


def make_collab(root: Path) -> Path:
    folder = root / "ogb" / "ogbl_collab"
    write_raw(folder, collab_features(), len(COLLAB_TRAIN))
    write_csv(folder / "raw" / "edge.csv.gz", np.asarray(COLLAB_TRAIN))
    write_csv(folder / "raw" / "edge_year.csv.gz", np.asarray(COLLAB_YEARS)[:, None])
    write_csv(folder / "raw" / "edge_weight.csv.gz", np.ones((len(COLLAB_TRAIN), 1), dtype=np.int64))

    def held_out(pairs, year, neg):
        return {"edge": edges(pairs), "weight": torch.ones(len(pairs), dtype=torch.long),
                "year": torch.full((len(pairs),), year), "edge_neg": torch.as_tensor(neg)}

    save_split(folder, "time", {
        "train": {"edge": edges(COLLAB_TRAIN), "weight": torch.ones(len(COLLAB_TRAIN), dtype=torch.long),
                  "year": torch.tensor(COLLAB_YEARS)},
        "valid": held_out(COLLAB_VALID, 2018, negatives(60)),
        "test": held_out(COLLAB_TEST, 2019, negatives(60, skip=60)),
    })
    return folder


# ogbl-citation2 fixture: 30 papers; a citation i -> j, directed; 3 valid and 2 test sources, each
# with one held-out citation and 5 negatives of its own.
CITE_TRAIN = [(1, 0), (2, 0), (2, 1), (3, 1), (4, 2), (5, 3), (6, 4), (7, 6), (8, 5), (9, 8)]
CITE_VALID = ([3, 4, 9], [0, 1, 2])
CITE_TEST = ([5, 7], [0, 3])


def cite_negatives(sources, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.stack([torch.randperm(20, generator=gen)[:5] + 10 for _ in sources])


def make_citation2(root: Path) -> Path:
    folder = root / "ogb" / "ogbl_citation2"
    write_raw(folder, torch.randn(30, 128, generator=torch.Generator().manual_seed(1)).numpy(), len(CITE_TRAIN))
    write_csv(folder / "raw" / "node_year.csv.gz", np.full((30, 1), 2015))
    src, dst = zip(*CITE_TRAIN)
    save_split(folder, "time", {
        "train": {"source_node": torch.tensor(src), "target_node": torch.tensor(dst)},
        "valid": {"source_node": torch.tensor(CITE_VALID[0]), "target_node": torch.tensor(CITE_VALID[1]),
                  "target_node_neg": cite_negatives(CITE_VALID[0], 0)},
        "test": {"source_node": torch.tensor(CITE_TEST[0]), "target_node": torch.tensor(CITE_TEST[1]),
                 "target_node_neg": cite_negatives(CITE_TEST[0], 1)},
    })
    return folder


# ogbl-ppa fixture: 40 proteins of 58 species (one-hot integer features).
PPA_TRAIN = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 8)]
PPA_VALID = [(0, 2), (4, 6)]
PPA_TEST = [(1, 3), (5, 7), (4, 8)]


def ppa_features() -> np.ndarray:
    return np.eye(58, dtype=np.int64)[np.arange(40) % 58]


def make_ppa(root: Path) -> Path:
    folder = root / "ogb" / "ogbl_ppa"
    write_raw(folder, ppa_features(), len(PPA_TRAIN))
    pool = np.asarray(list(itertools.combinations(range(10, 40), 2)))
    save_split(folder, "throughput", {
        "train": {"edge": edges(PPA_TRAIN)},
        "valid": {"edge": edges(PPA_VALID), "edge_neg": torch.as_tensor(pool[:120])},
        "test": {"edge": edges(PPA_TEST), "edge_neg": torch.as_tensor(pool[120:240])},
    })
    return folder


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GKD_CACHE_DIR", str(cache))
    return cache


def pairs_of(task, split: str, label: float) -> list[tuple[int, int]]:
    index = task.split[split]
    index = index[task.data.pair_label[index] == label]
    return [tuple(p) for p in task.data.pairs[:, index].t().tolist()]


def assert_no_leak(task) -> None:
    n = task.data.num_nodes
    keys = edge_keys(task.data.edge_index, n)
    for split in ("valid", "test"):
        index = task.split[split]
        positives = task.data.pairs[:, index[task.data.pair_label[index] == 1]]
        assert not contains(keys, positives, n).any(), split


def test_collab_counts_and_held_out_pairs_leave_the_training_graph(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_collab(root)
    task = gkd.data.load("ogbl-collab", root=root)
    assert task.kind == "link" and task.name == "ogbl-collab"
    assert task.metric == "hits@50" and task.evaluator == "ogbl-collab" and task.objective == "binary"
    assert task.data.num_nodes == 30 and torch.equal(task.data.x, torch.from_numpy(collab_features()))
    # 12 rows: (0, 1) twice, (1, 2) / (2, 1), (3, 4) twice collapse: 9 pairs; (3, 4) and (5, 6) held out.
    expected = [(0, 1), (1, 2), (2, 3), (4, 5), (6, 7), (7, 8), (8, 9)]
    assert pairs_of(task, "train", 1) == expected
    assert sorted(map(tuple, task.data.edge_index.t().tolist())) == sorted(expected + [(b, a) for a, b in expected])
    assert pairs_of(task, "valid", 1) == COLLAB_VALID and pairs_of(task, "test", 1) == COLLAB_TEST
    assert pairs_of(task, "valid", 0) == list(map(tuple, negatives(60).tolist()))
    assert pairs_of(task, "test", 0) == list(map(tuple, negatives(60, skip=60).tolist()))
    info = task.info
    assert info["train_edges_in_file"] == 12 and info["train_repeats_collapsed"] == 3
    assert info["train_pairs_held_out"] == 2 and info["train_pairs_held_out_valid"] == 1
    assert info["train_pairs_held_out_test"] == 1 and info["train_pairs"] == 7
    assert info["split_type"] == "time" and info["add_inverse_edge"] is True
    assert info["train_self_loops_dropped"] == 0 and info["valid_positives_also_test"] == 0
    assert getattr(task.data, "pair_query", None) is None
    assert_no_leak(task)
    again = gkd.data.load("ogbl-collab", root=root)
    assert again.info["from_cache"] and not info["from_cache"] and again.fingerprint() == task.fingerprint()


def test_collab_hits_at_50_on_chosen_scores(tmp_path: Path) -> None:
    make_collab(tmp_path)
    task = gkd.data.load("ogbl-collab", root=tmp_path)
    index = task.split["valid"]
    labels = task.data.pair_label[index]
    scores = torch.empty(index.numel())
    scores[labels == 1] = torch.tensor([0.9, 0.2, 0.1, 0.05])
    scores[labels == 0] = torch.arange(60) / 100  # the 50th best negative scores 0.10
    assert score_rows(task, scores, index) == pytest.approx(0.5)  # 0.9 and 0.2 beat it; 0.1 ties, not above


def test_citation2_queries_and_mrr(tmp_path: Path) -> None:
    make_citation2(tmp_path)
    task = gkd.data.load("ogbl-citation2", root=tmp_path)
    assert task.metric == "mrr" and task.evaluator == "ogbl-citation2"
    assert task.info["negatives_per_positive"] == 5 and task.info["add_inverse_edge"] is False
    assert pairs_of(task, "train", 1) == CITE_TRAIN  # directed, as cited
    assert task.data.edge_index.size(1) == 2 * len(CITE_TRAIN)
    assert pairs_of(task, "valid", 1) == list(zip(*CITE_VALID)) and pairs_of(task, "test", 1) == list(zip(*CITE_TEST))
    index = task.split["valid"]
    query, labels = task.data.pair_query[index], task.data.pair_label[index]
    assert query[labels == 1].tolist() == [0, 1, 2]
    assert query[labels == 0].tolist() == [0] * 5 + [1] * 5 + [2] * 5
    neg = task.data.pairs[:, index[labels == 0]]
    assert neg[0].tolist() == [3] * 5 + [4] * 5 + [9] * 5
    assert neg[1].view(3, 5).tolist() == cite_negatives(CITE_VALID[0], 0).tolist()
    assert task.split["test"].numel() == 2 + 2 * 5
    assert_no_leak(task)
    # Ranks: first beats its 5 negatives (1); second has two above (3); third one above, one tied (2.5).
    scores = torch.cat([torch.tensor([0.9, 0.5, 0.1]),
                        torch.tensor([[0.1] * 5, [0.6, 0.7, 0.2, 0.1, 0.0], [0.2, 0.1, 0.0, 0.0, 0.0]]).view(-1)])
    assert score_rows(task, scores, index) == pytest.approx((1 + 1 / 3 + 1 / 2.5) / 3)


def test_ppa_one_hot_features_and_hits_at_100(tmp_path: Path) -> None:
    make_ppa(tmp_path)
    task = gkd.data.load("ogbl-ppa", root=tmp_path)
    assert task.metric == "hits@100" and task.info["split_type"] == "throughput"
    assert task.data.x.dtype == torch.float32 and task.num_features == 58
    assert torch.equal(task.data.x, torch.from_numpy(ppa_features()).float())
    assert pairs_of(task, "train", 1) == PPA_TRAIN and task.info["train_pairs_held_out"] == 0
    assert {k: v.numel() for k, v in task.split.items()} == {"train": 8, "valid": 122, "test": 123}
    assert_no_leak(task)
    index = task.split["test"]
    labels = task.data.pair_label[index]
    scores = torch.empty(index.numel())
    scores[labels == 0] = torch.arange(120).float()  # the 100th best negative scores 20
    scores[labels == 1] = torch.tensor([25.0, 19.0, 21.0])
    assert score_rows(task, scores, index) == pytest.approx(2 / 3)


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError) as err:
        gkd.data.load("ogbl-ppa", root=tmp_path)
    folder = tmp_path / "ogb" / "ogbl_ppa"
    for part in ("raw/node-feat.csv.gz", "raw/num-node-list.csv.gz", "split/throughput/train.pt",
                 "split/throughput/valid.pt", "split/throughput/test.pt"):
        assert f"{folder / part}   (missing)" in str(err.value)
    assert "ppassoc.zip" in str(err.value) and "download=True" in str(err.value)
    assert not (tmp_path / "ogb").exists()
    folder = make_collab(tmp_path)
    (folder / "split" / "time" / "valid.pt").unlink()
    with pytest.raises(DataNotFoundError) as err:
        gkd.data.load("ogbl-collab", root=tmp_path)
    assert f"{folder / 'split/time/valid.pt'}   (missing)" in str(err.value)
    assert f"{folder / 'split/time/train.pt'}\n" in str(err.value)


def test_corrupt_entries_name_the_file_and_entry(tmp_path: Path) -> None:
    folder = make_collab(tmp_path)
    train = folder / "split" / "time" / "train.pt"
    content = torch.load(train, weights_only=True)
    content["edge"][4] = torch.tensor([2, 30])
    torch.save(content, train)
    message = (rf"{re.escape(str(train))}: 'edge' row 4 \(2, 30\) names node 30, outside the 30 nodes of "
               rf"{re.escape(str(folder / 'raw/num-node-list.csv.gz'))}")
    with pytest.raises(InvalidDataError, match=message):
        gkd.data.load("ogbl-collab", root=tmp_path)
    content["edge"] = content["edge"].t()  # [2, n]: not OGB's shape
    torch.save(content, train)
    shape = rf"{re.escape(str(train))}: 'edge' has shape \[2, 12\]; OGB's is \[n, 2\]"
    with pytest.raises(InvalidDataError, match=shape):
        gkd.data.load("ogbl-collab", root=tmp_path)
    cite = make_citation2(tmp_path)
    test = cite / "split" / "time" / "test.pt"
    content = torch.load(test, weights_only=True)
    content["target_node_neg"] = content["target_node_neg"][:1]
    torch.save(content, test)
    shape = rf"{re.escape(str(test))}: 'target_node_neg' has shape \[1, 5\]; OGB's is \[2, k\]"
    with pytest.raises(InvalidDataError, match=shape):
        gkd.data.load("ogbl-citation2", root=tmp_path)
    content["target_node_neg"] = torch.full((2, 5), -1)
    torch.save(content, test)
    with pytest.raises(InvalidDataError, match=r"'target_node_neg' row 0, column 0 names node -1"):
        gkd.data.load("ogbl-citation2", root=tmp_path)


class Hostile:
    """A pickle that makes a folder when unpickled freely."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return os.makedirs, (str(self.path),)


def test_a_split_file_weights_only_cannot_read_is_refused_in_one_line(tmp_path: Path) -> None:
    folder = make_ppa(tmp_path)
    valid = folder / "split" / "throughput" / "valid.pt"
    torch.save({"edge": np.asarray(PPA_VALID), "edge_neg": np.asarray([[10, 11]])}, valid)  # NumPy inside
    with pytest.raises(InvalidDataError) as err:
        gkd.data.load("ogbl-ppa", root=tmp_path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{valid}: torch.load(weights_only=True) cannot read it")
    assert "numpy" in message and "torch.as_tensor" in message
    marker = tmp_path / "ran"
    torch.save({"edge": Hostile(marker)}, valid)
    with pytest.raises(InvalidDataError, match="makedirs") as err:
        gkd.data.load("ogbl-ppa", root=tmp_path)
    assert not marker.exists() and "\n" not in str(err.value)
    torch.save({"edge": edges(PPA_VALID).float(), "edge_neg": torch.tensor([[10, 11]])}, valid)
    with pytest.raises(InvalidDataError, match=rf"{re.escape(str(valid))}: 'edge' holds torch.float32 values"):
        gkd.data.load("ogbl-ppa", root=tmp_path)
    torch.save({"edge": edges(PPA_VALID)}, valid)
    with pytest.raises(InvalidDataError, match=rf"{re.escape(str(valid))}: no 'edge_neg' entry \(it holds 'edge'\)"):
        gkd.data.load("ogbl-ppa", root=tmp_path)


def test_catalog_lists_the_three_sets() -> None:
    for name in ("ogbl-collab", "ogbl-citation2", "ogbl-ppa"):
        entry = gkd.data.DATASETS[name]
        assert entry.kind == "link" and entry.splits == ("official",)
        assert entry.files.startswith(f"ogb/{name.replace('-', '_')}/")


@pytest.mark.parametrize("name, make", [("ogbl-collab", make_collab), ("ogbl-citation2", make_citation2)])
def test_an_ogb_link_fixture_end_to_end_through_the_harness(tmp_path: Path, name, make) -> None:
    """Loaded by name, a SAGE teacher and an LLP-taught MLP trained on it, scored on its metric."""
    from benchmarks import run as bench

    make(tmp_path)
    out = tmp_path / "results"
    status = bench.main(["--dataset", name, "--methods", "none,llp", "--seeds", "1", "--epochs", "3", "--root",
                         str(tmp_path), "--out", str(out), "--no-faithfulness"])
    assert status == 0
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["method"] for r in records} == {"none", "llp"} and all(r["status"] == "ok" for r in records)
    metric = "mrr" if name == "ogbl-citation2" else "hits@50"
    assert all(r["metric"] == metric and 0.0 <= r["test"] <= 1.0 for r in records)
    assert all(r["links"]["test"][metric] == pytest.approx(r["test"]) for r in records)
    assert "| hits@50 |" in (out / "summary.md").read_text() or metric == "mrr"


def test_sampled_link_runs_are_their_own_runs_in_the_harness(tmp_path: Path) -> None:
    """``--fanouts`` trains the link teacher and student on sampled neighbourhoods, and the
    records say so: the full-graph run of the same seed is another run, not a resumed one."""
    from benchmarks import run as bench

    make_collab(tmp_path)
    out = tmp_path / "results"
    common = ["--dataset", "ogbl-collab", "--methods", "llp", "--seeds", "1", "--epochs", "2", "--root", str(tmp_path),
              "--out", str(out), "--no-faithfulness"]
    assert bench.main(common + ["--fanouts", "3,3"]) == 0
    assert bench.main(common) == 0
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r.get("fanouts") for r in records] == [[3, 3], None]
    assert all(r["status"] == "ok" for r in records)

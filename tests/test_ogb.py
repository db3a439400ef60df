"""OGB loaders (gkd.data.ogb) on tiny fixtures written in OGB's own on-disk layout, plus the
real ogbg-molhiv when ``GKD_DATA_ROOT`` holds it."""
from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gkd.data.ogb import load_ogb_graph, load_ogb_node
from gkd.errors import DataNotFoundError, UnknownNameError

os.environ.setdefault("OUTDATED_IGNORE", "1")
from ogb.io.read_graph_raw import read_csv_graph_raw  # noqa: E402
from ogb.utils.features import get_atom_feature_dims, get_bond_feature_dims  # noqa: E402

# ogbn-arxiv fixture: 12 nodes; (3, 4) and (4, 3) are both in the file, so the 11 stored edges
# make 10 undirected pairs, 20 directed edges once symmetrised.
ARXIV_EDGES = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 3), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10), (10, 11)]
ARXIV_LABELS = [0, 5, 39, 7, 7, 12, 3, 0, 39, 21, 1, 2]
ARXIV_SPLIT = {"train": [0, 1, 2, 3, 4, 5], "valid": [6, 7, 8], "test": [9, 10, 11]}

# ogbg-molhiv fixture: 6 molecules, one a lone atom with no bond.
MOL_NODES = [3, 2, 4, 1, 3, 2]
MOL_EDGES = [[(0, 1), (1, 2)], [(0, 1)], [(0, 1), (1, 2), (2, 3)], [], [(0, 2), (2, 1)], [(1, 0)]]
MOL_LABELS = [0, 1, 0, 0, 1, 0]
MOL_SPLIT = {"train": [0, 1, 2, 3], "valid": [4], "test": [5]}


def write_csv(path: Path, values) -> None:
    """Exactly how OGB writes its files: header-less, index-less, gzip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(values).to_csv(path, header=False, index=False, compression="gzip")


def write_split(folder: Path, split_type: str, split: dict) -> None:
    for part, idx in split.items():
        write_csv(folder / "split" / split_type / f"{part}.csv.gz", np.asarray(idx, dtype=np.int64))


def arxiv_features() -> torch.Tensor:
    return torch.randn(12, 128, generator=torch.Generator().manual_seed(0))


def make_arxiv(root: Path) -> Path:
    folder = root / "ogb" / "ogbn_arxiv"
    raw = folder / "raw"
    write_csv(raw / "edge.csv.gz", np.asarray(ARXIV_EDGES, dtype=np.int64))
    write_csv(raw / "node-feat.csv.gz", arxiv_features().numpy())
    write_csv(raw / "node-label.csv.gz", np.asarray(ARXIV_LABELS, dtype=np.int64)[:, None])
    write_csv(raw / "node_year.csv.gz", np.full((12, 1), 2019, dtype=np.int64))
    write_csv(raw / "num-node-list.csv.gz", np.asarray([[12]]))
    write_csv(raw / "num-edge-list.csv.gz", np.asarray([[len(ARXIV_EDGES)]]))
    write_split(folder, "time", ARXIV_SPLIT)
    (folder / "RELEASE_v1.txt").write_text("ogbn-arxiv fixture\n")
    return folder


def make_products(root: Path) -> Path:
    """ogbn-products in OGB's layout: the arxiv fixture's graph, 100 features, 47 classes, the
    sales-ranking split, no node years."""
    folder = root / "ogb" / "ogbn_products"
    raw = folder / "raw"
    write_csv(raw / "edge.csv.gz", np.asarray(ARXIV_EDGES, dtype=np.int64))
    write_csv(raw / "node-feat.csv.gz", torch.randn(12, 100, generator=torch.Generator().manual_seed(1)).numpy())
    write_csv(raw / "node-label.csv.gz", (np.asarray(ARXIV_LABELS, dtype=np.int64) % 47)[:, None])
    write_csv(raw / "num-node-list.csv.gz", np.asarray([[12]]))
    write_csv(raw / "num-edge-list.csv.gz", np.asarray([[len(ARXIV_EDGES)]]))
    write_split(folder, "sales_ranking", ARXIV_SPLIT)
    return folder


def mol_features(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    atoms = np.stack([rng.integers(0, d, sum(MOL_NODES)) for d in get_atom_feature_dims()], axis=1)
    bonds = np.stack([rng.integers(0, d, sum(map(len, MOL_EDGES))) for d in get_bond_feature_dims()], axis=1)
    return atoms.astype(np.int64), bonds.astype(np.int64)


def make_mol(root: Path, name: str = "ogbg-molhiv", labels=None, seed: int = 0) -> Path:
    folder = root / "ogb" / name.replace("-", "_")
    raw = folder / "raw"
    atoms, bonds = mol_features(seed)
    labels = np.asarray(MOL_LABELS, dtype=np.int64)[:, None] if labels is None else labels
    write_csv(raw / "edge.csv.gz", np.asarray([e for g in MOL_EDGES for e in g], dtype=np.int64))
    write_csv(raw / "edge-feat.csv.gz", bonds)
    write_csv(raw / "node-feat.csv.gz", atoms)
    write_csv(raw / "graph-label.csv.gz", labels)
    write_csv(raw / "num-node-list.csv.gz", np.asarray(MOL_NODES)[:, None])
    write_csv(raw / "num-edge-list.csv.gz", np.asarray([len(g) for g in MOL_EDGES])[:, None])
    write_split(folder, "scaffold", MOL_SPLIT)
    return folder


def listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("GKD_CACHE_DIR", str(cache))
    return cache


def test_node_fixture_values(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_arxiv(root)
    before = listing(root)
    task = load_ogb_node("ogbn-arxiv", root)
    g = task.data
    assert task.kind == "node" and task.name == "ogbn-arxiv"
    assert g.num_nodes == 12
    assert g.x.dtype == torch.float32 and torch.equal(g.x, arxiv_features())
    assert g.y.dtype == torch.long and g.y.tolist() == ARXIV_LABELS
    pairs = {frozenset(e) for e in ARXIV_EDGES}
    expected = sorted([(a, b) for a, b in map(tuple, pairs)] + [(b, a) for a, b in map(tuple, pairs)])
    assert g.edge_index.dtype == torch.long and g.edge_index.size(1) == 20
    assert sorted(map(tuple, g.edge_index.t().tolist())) == expected
    assert {k: v.tolist() for k, v in task.split.items()} == ARXIV_SPLIT
    assert task.num_classes == 40 and task.objective == "multiclass"
    assert task.metric == "accuracy" and task.evaluator == "ogbn-arxiv"
    assert task.categorical_sizes is None
    assert task.info["num_edges_in_file"] == 11 and task.info["symmetrised"] is True
    assert task.info["num_edges"] == 20 and task.info["split_type"] == "time"
    assert listing(root) == before, "the data root must stay untouched"


def test_products_fixture_values(tmp_path: Path) -> None:
    root = tmp_path / "data"
    make_products(root)
    task = load_ogb_node("ogbn-products", root)
    assert task.data.num_nodes == 12 and task.data.x.shape == (12, 100)
    assert task.num_classes == 47 and task.evaluator == "ogbn-products"
    assert task.info["split_type"] == "sales_ranking" and task.data.edge_index.size(1) == 20
    assert {k: v.tolist() for k, v in task.split.items()} == ARXIV_SPLIT


def test_node_suite_runs_both_ogb_node_sets_from_fixtures(tmp_path: Path) -> None:
    from benchmarks.run import main
    from gkd.io import read_jsonl

    root = tmp_path / "data"
    make_arxiv(root)
    make_products(root)
    out = tmp_path / "out"
    assert main(["--suite", "node", "--dataset", "ogbn-arxiv,ogbn-products", "--methods", "none,glnn",
                 "--seeds", "1", "--budget", "epochs=2", "--root", str(root), "--out", str(out)]) == 0
    records = read_jsonl(out / "results.jsonl")
    runs = {(r["dataset"], r["setting"], r["method"]) for r in records if r["status"] == "ok"}
    assert runs == {(d, s, m) for d in ("ogbn-arxiv", "ogbn-products") for s in ("transductive", "inductive")
                    for m in ("none", "glnn")}
    assert all(r["split"] == "official" and r["peak_mib"] > 0 and r["student_infer_s"] > 0 for r in records)


def test_node_cache_hit_and_invalidation(tmp_path: Path, _cache: Path) -> None:
    root = tmp_path / "data"
    folder = make_arxiv(root)
    first = load_ogb_node("ogbn-arxiv", root)
    cache_file = Path(first.info["cache_file"])
    assert not first.info["from_cache"]
    assert cache_file.is_file() and cache_file.parent == _cache / "ogb" / "ogbn-arxiv"
    second = load_ogb_node("ogbn-arxiv", root)
    assert second.info["from_cache"] and second.info["cache_file"] == str(cache_file)
    for key in ("x", "edge_index", "y"):
        assert torch.equal(first.data[key], second.data[key])
    assert all(torch.equal(first.split[k], second.split[k]) for k in first.split)
    assert first.fingerprint() == second.fingerprint()
    # A changed split file is a different dataset: new key, rebuilt.
    write_split(folder, "time", {**ARXIV_SPLIT, "test": [9, 10]})
    third = load_ogb_node("ogbn-arxiv", root)
    assert not third.info["from_cache"] and third.info["cache_file"] != str(cache_file)
    assert third.split["test"].tolist() == [9, 10]


def test_graph_fixture_values(tmp_path: Path) -> None:
    root = tmp_path / "data"
    folder = make_mol(root)
    (folder / "RELEASE_v1.txt").unlink(missing_ok=True)  # absent: no prompt, no error
    before = listing(root)
    task = load_ogb_graph("ogbg-molhiv", root)
    atoms, bonds = mol_features(0)
    assert task.kind == "graph" and len(task.data) == 6
    assert [g.num_nodes for g in task.data] == MOL_NODES
    assert [g.edge_index.size(1) for g in task.data] == [2 * len(e) for e in MOL_EDGES]
    node_start, edge_start = np.cumsum([0] + MOL_NODES), np.cumsum([0] + [len(e) for e in MOL_EDGES])
    for i, g in enumerate(task.data):
        assert g.x.dtype == torch.long and g.x.tolist() == atoms[node_start[i]:node_start[i + 1]].tolist()
        inverse = [list(p) for e in MOL_EDGES[i] for p in (e, e[::-1])]  # OGB: edge, then its reverse
        assert g.edge_index.t().tolist() == inverse
        assert g.edge_attr.tolist() == np.repeat(bonds[edge_start[i]:edge_start[i + 1]], 2, axis=0).tolist()
        assert g.y.dtype == torch.float32 and g.y.shape == (1, 1) and g.y.item() == MOL_LABELS[i]
    assert task.labels().view(-1).tolist() == MOL_LABELS
    assert {k: v.tolist() for k, v in task.split.items()} == MOL_SPLIT
    assert task.num_classes == 1 and task.objective == "binary"
    assert task.metric == "rocauc" and task.evaluator == "ogbg-molhiv"
    assert task.categorical_sizes == list(get_atom_feature_dims()) and task.num_features == 9
    assert listing(root) == before
    # Same graphs, edge order and features as OGB's own raw reader.
    reference = read_csv_graph_raw(str(folder / "raw"), add_inverse_edge=True)
    for g, ref in zip(task.data, reference):
        assert g.edge_index.tolist() == ref["edge_index"].tolist()
        assert g.edge_attr.tolist() == ref["edge_feat"].tolist() and g.x.tolist() == ref["node_feat"].tolist()
    again = load_ogb_graph("ogbg-molhiv", root)
    assert again.info["from_cache"] and Path(again.info["cache_file"]).is_file()
    assert all(torch.equal(a.edge_index, b.edge_index) and torch.equal(a.x, b.x) for a, b in zip(task.data, again.data))


def test_graph_nan_labels_and_ap_metric(tmp_path: Path) -> None:
    labels = np.zeros((6, 128))
    labels[:, 1] = MOL_LABELS
    labels[2, 0] = labels[5, 127] = np.nan
    make_mol(tmp_path, "ogbg-molpcba", labels=labels)
    task = load_ogb_graph("ogbg-molpcba", tmp_path)
    assert task.num_classes == 128 and task.metric == "ap" and task.objective == "binary"
    y = task.labels()
    assert y.shape == (6, 128) and y.dtype == torch.float32
    assert torch.isnan(y).sum() == 2 and torch.isnan(y[2, 0]) and torch.isnan(y[5, 127])
    assert y[:, 1].tolist() == MOL_LABELS


def test_missing_node_data_names_folder_and_files(tmp_path: Path) -> None:
    folder = tmp_path / "ogb" / "ogbn_arxiv"
    with pytest.raises(DataNotFoundError) as err:
        load_ogb_node("ogbn-arxiv", tmp_path)
    message = str(err.value)
    for part in ("raw/edge.csv.gz", "raw/node-feat.csv.gz", "raw/node-label.csv.gz", "split/time/train.csv.gz",
                 "split/time/valid.csv.gz", "split/time/test.csv.gz"):
        assert str(folder / part) in message
    assert "download=True" in message and "--download" in message
    assert not (tmp_path / "ogb").exists(), "a failed offline load must not create folders in the root"


def test_partly_missing_graph_data(tmp_path: Path) -> None:
    folder = make_mol(tmp_path)
    (folder / "split" / "scaffold" / "valid.csv.gz").unlink()
    with pytest.raises(DataNotFoundError) as err:
        load_ogb_graph("ogbg-molhiv", tmp_path)
    message = str(err.value)
    assert f"{folder / 'split/scaffold/valid.csv.gz'}   (missing)" in message
    assert f"{folder / 'raw/graph-label.csv.gz'}\n" in message  # listed, present
    assert str(folder / "raw/edge-feat.csv.gz") in message


def test_unsupported_names(tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="ogbn-products"):
        load_ogb_node("ogbn-mag", tmp_path)  # heterogeneous
    with pytest.raises(UnknownNameError, match="ogbg-molhiv"):
        load_ogb_graph("ogbg-molesol", tmp_path)  # regression
    with pytest.raises(UnknownNameError):
        load_ogb_graph("ogbn-arxiv", tmp_path)


def test_download_moves_zip_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = tmp_path / "server"
    source = make_arxiv(server)
    archive = server / "arxiv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(source.rglob("*")):
            zf.write(path, Path("arxiv") / path.relative_to(source))
    urls = []

    def fake_download(url: str, folder: str, log: bool = True) -> str:
        urls.append(url)
        return shutil.copy(archive, Path(folder) / url.rpartition("/")[2])

    monkeypatch.setattr("ogb.utils.url.download_url", fake_download)
    root = tmp_path / "data"
    task = load_ogb_node("ogbn-arxiv", root, download=True)
    assert urls == ["http://snap.stanford.edu/ogb/data/nodeproppred/arxiv.zip"]
    assert task.data.num_nodes == 12 and task.split["test"].tolist() == ARXIV_SPLIT["test"]
    assert sorted(p.name for p in (root / "ogb").iterdir()) == ["ogbn_arxiv"]  # no zip, no scratch
    assert (root / "ogb" / "ogbn_arxiv" / "raw" / "edge.csv.gz").is_file()


def test_download_failure_is_data_not_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(url: str, folder: str, log: bool = True) -> str:
        raise OSError("network is unreachable")

    monkeypatch.setattr("ogb.utils.url.download_url", offline)
    with pytest.raises(DataNotFoundError, match="network is unreachable") as err:
        load_ogb_graph("ogbg-molhiv", tmp_path, download=True)
    assert str(tmp_path / "ogb" / "ogbg_molhiv" / "raw" / "node-feat.csv.gz") in str(err.value)
    assert list((tmp_path / "ogb").iterdir()) == []


def test_npz_node_set_with_unlabelled_nodes(tmp_path: Path) -> None:
    """OGB's binary layout (ogbn-papers100M): raw/data.npz, raw/node-label.npz with NaN."""
    folder = tmp_path / "ogb" / "ogbn_papers100M"
    (folder / "raw").mkdir(parents=True)
    x = np.arange(5 * 4, dtype=np.float32).reshape(5, 4)
    np.savez(folder / "raw" / "data.npz", edge_index=np.asarray([[0, 1, 2], [1, 2, 3]]), node_feat=x,
             num_nodes_list=np.asarray([5]), num_edges_list=np.asarray([3]))
    np.savez(folder / "raw" / "node-label.npz", node_label=np.asarray([[3.0], [np.nan], [171.0], [0.0], [np.nan]]))
    write_split(folder, "time", {"train": [0], "valid": [2], "test": [3]})
    task = load_ogb_node("ogbn-papers100M", tmp_path)
    assert task.data.y.tolist() == [3, -1, 171, 0, -1] and task.info["unlabelled_nodes"] == 2
    assert torch.equal(task.data.x, torch.from_numpy(x)) and task.data.edge_index.size(1) == 6
    assert task.num_classes == 172 and task.split["test"].tolist() == [3]


def test_node_set_without_node_features(tmp_path: Path) -> None:
    """ogbn-proteins: binary multi-task labels, x from the mean of incident edge features."""
    folder = tmp_path / "ogb" / "ogbn_proteins"
    raw = folder / "raw"
    write_csv(raw / "edge.csv.gz", np.asarray([[0, 1], [1, 2]]))
    write_csv(raw / "edge-feat.csv.gz", np.asarray([[0.5] * 8, [0.25] * 8]))
    write_csv(raw / "node-label.csv.gz", np.eye(3, 112, dtype=np.int64))
    write_csv(raw / "num-node-list.csv.gz", np.asarray([[3]]))
    write_csv(raw / "num-edge-list.csv.gz", np.asarray([[2]]))
    write_split(folder, "species", {"train": [0], "valid": [1], "test": [2]})
    task = load_ogb_node("ogbn-proteins", tmp_path)
    assert task.objective == "binary" and task.metric == "rocauc" and task.num_classes == 112
    assert task.data.y.shape == (3, 112) and task.data.y.dtype == torch.float32
    assert task.data.x[:, 0].tolist() == [0.5, 0.375, 0.25] and task.num_features == 8


def test_real_molhiv() -> None:
    data_root = os.environ.get("GKD_DATA_ROOT")
    if not data_root:
        pytest.skip("GKD_DATA_ROOT is unset (point it at the shared datasets folder)")
    if not (Path(data_root) / "ogb" / "ogbg_molhiv" / "raw" / "edge.csv.gz").is_file():
        pytest.skip(f"no ogbg-molhiv under {data_root}/ogb/ogbg_molhiv")
    task = load_ogb_graph("ogbg-molhiv", Path(data_root))
    assert len(task.data) == 41_127
    assert {k: v.numel() for k, v in task.split.items()} == {"train": 32_901, "valid": 4_113, "test": 4_113}
    assert int(task.labels().sum()) == 1_443 and not torch.isnan(task.labels()).any()
    assert task.num_features == 9 and task.data[0].edge_attr.size(1) == 3
    assert task.data[0].num_nodes == 19 and task.data[0].edge_index.size(1) == 40
    assert task.info["num_nodes_total"] == 1_049_163 and task.info["num_edges_in_file"] == 1_129_688
    assert task.categorical_sizes == list(get_atom_feature_dims())
    split = torch.cat(list(task.split.values()))
    assert split.unique().numel() == 41_127

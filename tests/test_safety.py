"""Nothing a file says is executed, nothing is half-written, and a bad cache is rebuilt: hostile
pickles in every cache and input format, content-keyed caches, bounded zip members, file modes
and orphan temporary files."""
import os
import pickle
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import gkd
from gkd.data.images import load_cifar
from gkd.data.pickles import load_pickle
from gkd.data.planetoid import read_raw
from gkd.errors import InvalidDataError, MismatchError
from gkd.graph.walks import deepwalk
from gkd.io import atomic_write_text, cache_dir, read_cache, write_cache
from gkd.train.cache import teacher_path


class Hostile:
    """Unpickling it runs a shell command that leaves a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _planetoid_copy(shared_root: Path, tmp_path: Path) -> Path:
    raw = tmp_path / "planetoid" / "Cora" / "raw"
    shutil.copytree(shared_root / "planetoid" / "Cora" / "raw", raw)
    return raw


def test_a_hostile_teacher_cache_is_ignored_not_run(tmp_path):
    task = gkd.data.load("synthetic")
    spec, config = gkd.ModelSpec("mlp", hidden=8), gkd.TrainConfig(epochs=2)
    first = gkd.train_teacher(task, spec, config)
    path = teacher_path(task, spec, config, 0)
    blob = torch.load(path, weights_only=True)
    marker = tmp_path / "ran"
    torch.save({**blob, "extra": Hostile(marker)}, path)  # a valid cache with one extra pickled object
    with pytest.warns(UserWarning, match="ignoring unreadable cache"):
        again = gkd.train_teacher(task, spec, config)
    assert not marker.exists() and not again.from_cache  # not run; retrained instead
    assert torch.allclose(again.logits, first.logits)


def test_hostile_planetoid_files_and_cifar_batches_are_refused_naming_the_file(tmp_path, shared_root):
    raw = _planetoid_copy(shared_root, tmp_path)
    marker = tmp_path / "ran"
    (raw / "ind.cora.graph").write_bytes(pickle.dumps({"graph": Hostile(marker)}, protocol=2))
    with pytest.raises(InvalidDataError, match=r"ind\.cora\.graph is not a valid data pickle.*posix\.system"):
        gkd.data.load("cora", tmp_path)
    batches = tmp_path / "cifar10" / "cifar-10-batches-py"
    batches.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (batches / name).write_bytes(pickle.dumps({"data": Hostile(marker), "labels": [0]}))
    with pytest.raises(InvalidDataError, match="data_batch_1 is not a valid data pickle"):
        load_cifar("cifar10", tmp_path)
    assert not marker.exists()


def test_the_restricted_reader_gives_what_pickle_gives_for_the_real_files(shared_root):
    raw = shared_root / "planetoid" / "Cora" / "raw"
    with open(raw / "ind.cora.y", "rb") as handle:
        reference = pickle.load(handle, encoding="latin1")
    assert np.array_equal(load_pickle(raw / "ind.cora.y"), reference)
    with open(raw / "ind.cora.x", "rb") as handle:
        sparse = pickle.load(handle, encoding="latin1")
    assert np.array_equal(load_pickle(raw / "ind.cora.x").dense(), sparse.toarray())


def test_gkds_planetoid_reader_matches_pygs(shared_root):
    from torch_geometric.io import read_planetoid_data

    for name, pretty in (("cora", "Cora"), ("citeseer", "CiteSeer")):
        raw = shared_root / "planetoid" / pretty / "raw"
        ours, theirs = read_raw(raw, name), read_planetoid_data(str(raw), name)
        for key in ("x", "y", "edge_index", "train_mask", "val_mask", "test_mask"):
            assert torch.equal(getattr(ours, key), getattr(theirs, key)), (name, key)


def test_a_cut_test_index_is_refused(tmp_path, shared_root):
    raw = _planetoid_copy(shared_root, tmp_path)
    text = (raw / "ind.cora.test.index").read_text()
    (raw / "ind.cora.test.index").write_text(text[:-3])  # cut mid-line: no line end, a shorter id
    with pytest.raises(InvalidDataError, match=r"ind\.cora\.test\.index: the last line .* cut short"):
        gkd.data.load("cora", tmp_path)
    (raw / "ind.cora.test.index").write_text("\n".join(text.splitlines()[:-1]) + "\n")  # a whole line lost
    with pytest.raises(InvalidDataError, match="names 999 test nodes but .*ind.cora.tx holds 1000 rows"):
        gkd.data.load("cora", tmp_path)


def test_unreadable_and_hostile_caches_are_rebuilt_with_a_warning(tmp_path):
    marker = tmp_path / "ran"
    bad = cache_dir("any") / "bad.pt"
    bad.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"x": Hostile(marker)}, bad)
    with pytest.warns(UserWarning, match="ignoring unreadable cache"):
        assert read_cache(bad) is None
    bad.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="ignoring unreadable cache"):
        assert read_cache(bad) is None
    assert not marker.exists()
    assert write_cache({"a": torch.ones(2)}, bad) and torch.equal(read_cache(bad)["a"], torch.ones(2))


def test_deepwalk_is_keyed_by_every_edge(tmp_path, monkeypatch):
    monkeypatch.setenv("GKD_CACHE_DIR", str(tmp_path / "cache"))
    ring = torch.tensor([[i, (i + 1) % 8] for i in range(8)] + [[(i + 1) % 8, i] for i in range(8)]).t()
    # the same degrees everywhere, other edges: a rewiring that edge sums could not tell apart
    chords = torch.tensor([[i, (i + 2) % 8] for i in range(8)] + [[(i + 2) % 8, i] for i in range(8)]).t()
    assert int(ring.sum()) == int(chords.sum())
    settings = dict(dim=4, walks_per_node=2, walk_length=4, window=2, epochs=1, batch_size=64)
    first = deepwalk(ring, 8, **settings)
    second = deepwalk(chords, 8, **settings)
    assert not torch.equal(first, second)
    assert len(list(cache_dir("positional").glob("deepwalk-*.pt"))) == 2
    monkeypatch.setattr("gkd.graph.walks.random_walks", lambda *a, **k: pytest.fail("not taken from the cache"))
    assert torch.equal(deepwalk(ring, 8, **settings), first)


def test_the_graph_task_fingerprint_reads_every_graph():
    task = gkd.data.load("synthetic-graphs")
    before = task.fingerprint()
    task.data[1].x[0, 0] += 1.0  # graph 1: the old key sampled every tenth graph
    assert task.fingerprint() != before
    task = gkd.data.load("synthetic-graphs")
    assert task.fingerprint() == before
    task.data[3].edge_index = task.data[3].edge_index.flip(0)
    assert task.fingerprint() != before


def test_the_image_cache_is_keyed_by_content_and_rebuilt_when_corrupt(tmp_path):
    from tests.test_images import _jpeg

    folder = tmp_path / "cifar10"
    folder.mkdir()

    def write_zip(colour):
        with zipfile.ZipFile(folder / "cifar10-images.zip", "w") as z:
            for part, n in (("train", 12), ("test", 2)):
                for cls in ("airplane", "truck"):
                    for i in range(n):
                        z.writestr(f"{part}/{cls}/{i:04d}.jpg", _jpeg(colour))

    write_zip((250, 0, 0))
    red = load_cifar("cifar10", tmp_path).data.images.float().mean()
    stat = os.stat(folder / "cifar10-images.zip")
    write_zip((0, 0, 250))  # other images, the same size, the same second
    os.utime(folder / "cifar10-images.zip", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    blue = load_cifar("cifar10", tmp_path).data.images
    assert blue[:, 2].float().mean() > 200 and blue.float().mean() != red
    for cached in cache_dir("images").glob("*.pt"):
        cached.write_bytes(b"\0" * 64)  # corrupt every cached copy
    with pytest.warns(UserWarning, match="ignoring unreadable cache"):
        assert torch.equal(load_cifar("cifar10", tmp_path).data.images, blue)


def test_a_zip_member_larger_than_an_image_is_refused_before_reading(tmp_path):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    with zipfile.ZipFile(folder / "cifar10-images.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("train/truck/0000.jpg", b"\0" * (8 << 20))  # 8 MiB that compress to a few KB
        z.writestr("test/truck/0000.jpg", b"\0")
    assert (folder / "cifar10-images.zip").stat().st_size < 100_000
    with pytest.raises(InvalidDataError, match="0000.jpg says it is 8,388,608 bytes.*refused"):
        load_cifar("cifar10", tmp_path)


def test_files_take_the_umask_and_killed_writers_leave_nothing_behind(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text("x", tmp_path / "a.txt")
        assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o644
        os.umask(0o077)
        atomic_write_text("y", tmp_path / "b.txt")
        assert (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    orphan = tmp_path / f".a.txt.{dead}.abcd.tmp"  # what a writer killed mid-write leaves
    foreign = tmp_path / ".a.txt.notes.tmp"
    orphan.write_text("half")
    foreign.write_text("someone else's")
    atomic_write_text("z", tmp_path / "a.txt")
    assert not orphan.exists() and foreign.exists() and (tmp_path / "a.txt").read_text() == "z"


def test_a_cache_that_cannot_be_written_is_skipped(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the cache folder would go: nothing can be written under it")
    monkeypatch.setenv("GKD_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="could not write cache"):
        result = gkd.train_teacher(gkd.data.load("synthetic"), gkd.ModelSpec("mlp", hidden=8),
                                   gkd.TrainConfig(epochs=1))
    assert result.scores["test"] >= 0 and not result.from_cache


def test_a_teacher_from_other_data_is_refused_by_name():
    task, other = gkd.data.load("synthetic", seed=0), gkd.data.load("synthetic", seed=1)  # the same shape
    teacher = gkd.train_teacher(other, gkd.ModelSpec("mlp", hidden=8), gkd.TrainConfig(epochs=1), seed=1)
    with pytest.raises(MismatchError, match="trained on other data than task 'synthetic'"):
        gkd.train_student(task, teacher, gkd.ModelSpec("mlp", hidden=8), "kd", gkd.TrainConfig(epochs=1))
    same = gkd.train_teacher(task, gkd.ModelSpec("mlp", hidden=8), gkd.TrainConfig(epochs=1))
    fewer = gkd.Task(name=task.name, kind="node", data=task.data, num_classes=task.num_classes,
                     split={**task.split, "train": task.split["train"][:50]})  # another split, the same data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gkd.train_student(fewer, same, gkd.ModelSpec("mlp", hidden=8), "kd", gkd.TrainConfig(epochs=1))

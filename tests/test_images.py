"""Image tasks: digits, CIFAR in both layouts, augmentation, and the vision models."""
import io
import pickle
import zipfile

import numpy as np
import pytest
import torch

from gkd import ModelSpec, TrainConfig
from gkd import data as gkd_data
from gkd.data.images import crop_and_flip, load_cifar
from gkd.errors import DataNotFoundError, MismatchError
from gkd.train import predict, train_teacher


def test_digits_is_embedded_with_a_stratified_split():
    task = gkd_data.load("digits", seed=0)
    assert task.kind == "image" and task.num_items == 1797 and task.num_classes == 10
    assert task.data.images.shape == (1797, 1, 8, 8) and task.data.images.dtype == torch.uint8
    parts = [set(task.split[k].tolist()) for k in ("train", "valid", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and sum(map(len, parts)) == 1797
    counts = torch.bincount(task.labels()[task.split["train"]], minlength=10)
    assert counts.min() >= 100  # every class in training, about 60% of its ~180 images
    x = task.data.batch(task.split["train"])
    assert abs(x.mean().item()) < 1e-3 and abs(x.std().item() - 1.0) < 0.05  # normalised on training images
    assert not torch.equal(gkd_data.load("digits", seed=1).split["train"], task.split["train"])


def test_crop_and_flip_gives_a_shifted_possibly_mirrored_copy():
    x = torch.arange(2 * 1 * 5 * 5, dtype=torch.float).view(2, 1, 5, 5) + 1
    out = crop_and_flip(x, pad=1, generator=torch.Generator().manual_seed(3))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    for b in range(2):
        candidates = [padded[b, :, dy:dy + 5, dx:dx + 5] for dy in range(3) for dx in range(3)]
        candidates += [c.flip(-1) for c in candidates]
        assert any(torch.equal(out[b], c) for c in candidates)
    again = crop_and_flip(x, pad=1, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, again)


def _write_python_cifar(folder, per_batch=20):
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        blob = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                "labels": list(np.arange(per_batch) % 10)}
        with open(folder / name, "wb") as f:
            pickle.dump(blob, f)


def test_cifar10_python_format(tmp_path):
    _write_python_cifar(tmp_path / "cifar10" / "cifar-10-batches-py")
    task = load_cifar("cifar10", tmp_path, seed=0)
    assert task.num_items == 120 and task.data.images.shape[1:] == (3, 32, 32)
    assert len(task.split["valid"]) == 10 and len(task.split["train"]) == 90 and len(task.split["test"]) == 20
    assert task.data.augment
    with open(tmp_path / "cifar10" / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        first = pickle.load(f)["data"][0]
    assert torch.equal(task.data.images[0].reshape(-1), torch.from_numpy(first))
    sub = load_cifar("cifar10", tmp_path, seed=0, subset=30)
    assert len(sub.split["train"]) == 30 and torch.bincount(sub.labels()[sub.split["train"]]).tolist() == [3] * 10
    assert len(sub.split["valid"]) == 6  # subset / 5
    model = ModelSpec("resnet", hidden=2, num_layers=1).build(sub)
    logits = predict(model, sub)
    used = torch.zeros(sub.num_items, dtype=torch.bool)
    used[torch.cat(list(sub.split.values()))] = True
    assert torch.isnan(logits[~used]).all() and not torch.isnan(logits[used]).any()  # unused images not run


def _jpeg(colour) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def test_cifar10_imagefolder_zip_is_decoded_once_and_cached(tmp_path, monkeypatch):
    folder = tmp_path / "cifar10"
    folder.mkdir()
    with zipfile.ZipFile(folder / "cifar10-images.zip", "w") as z:
        for part, n in (("train", 20), ("test", 4)):
            for cls, colour in (("airplane", (250, 0, 0)), ("truck", (0, 0, 250))):
                for i in range(n):
                    z.writestr(f"{part}/{cls}/{i:04d}.jpg", _jpeg(colour))
    task = load_cifar("cifar10", tmp_path, seed=0)
    assert task.num_items == 48 and len(task.split["test"]) == 8
    y = task.labels()
    red = task.data.images[:, 0].float().mean(dim=(1, 2)) > 128
    assert torch.equal(red, y == 0)  # airplane (sorted first) = 0, truck = 1
    monkeypatch.setattr("gkd.data.images._image_folder", lambda *a: pytest.fail("decoded twice"))
    assert torch.equal(load_cifar("cifar10", tmp_path, seed=0).data.images, task.data.images)


def test_missing_cifar_says_where_to_put_it(tmp_path):
    with pytest.raises(DataNotFoundError, match="cifar-10-batches-py"):
        load_cifar("cifar10", tmp_path)
    with pytest.raises(DataNotFoundError, match="cifar-100-python"):
        load_cifar("cifar100", tmp_path)


def test_vision_models_expose_maps_tokens_and_pooled_features():
    task = gkd_data.load("digits")
    x = task.data.batch(torch.arange(4))
    out = ModelSpec("resnet", hidden=4, num_layers=1).build(task)(x)
    assert out.logits.shape == (4, 10) and [h.shape[1] for h in out.hidden] == [4, 8, 16]
    assert out.hidden[-1].dim() == 4 and out.pooled.shape == (4, 16)
    vit = ModelSpec("vit", hidden=16, num_layers=2).build(task)(x)
    assert vit.logits.shape == (4, 10) and len(vit.hidden) == 2 and vit.hidden[0].shape == (4, 16, 16)
    with pytest.raises(MismatchError, match="image models"):
        ModelSpec("mlp").build(task)
    with pytest.raises(MismatchError, match="reads images"):
        ModelSpec("resnet").build(gkd_data.load("synthetic"))


def test_a_cnn_learns_digits():
    task = gkd_data.load("digits")
    result = train_teacher(task, ModelSpec("resnet", hidden=8, num_layers=1),
                           TrainConfig(epochs=4, lr=0.01, batch_size=64), seed=0, use_cache=False)
    assert result.scores["test"] > 0.8
    assert predict(result.model, task, index=task.split["test"][:5]).shape == (5, 10)


def test_the_real_cifar10_zip_lists_every_image_and_decodes(tmp_path):
    import os
    from pathlib import Path

    from gkd.data.images import _image_folder, _zip_members

    root = os.environ.get("GKD_DATA_ROOT")
    archive = Path(root or "") / "cifar10" / "cifar10-images.zip"
    if not root or not archive.exists():
        pytest.skip("real data absent: set GKD_DATA_ROOT to a folder with cifar10/cifar10-images.zip")
    with zipfile.ZipFile(archive) as z:
        members = _zip_members(z)
        assert len(members["train"]) == 50_000 and len(members["test"]) == 10_000
        assert sorted({c for c, _ in members["test"]})[:2] == ["airplane", "automobile"]
        # decode a few of each class (the full set is decoded once by load_cifar and cached)
        sample = {"test": [m for i, m in enumerate(members["test"]) if i % 1000 < 3]}
        images, labels = _image_folder(sample)["test"]
    assert images.shape == (30, 3, 32, 32) and torch.bincount(labels).tolist() == [3] * 10
    assert 60 < images.float().mean() < 190  # real photographs, not blank


def test_cifar10_imagefolder_directory(tmp_path):
    for part, n in (("train", 20), ("test", 3)):
        for cls, colour in (("airplane", (250, 0, 0)), ("truck", (0, 0, 250))):
            folder = tmp_path / "cifar10" / part / cls
            folder.mkdir(parents=True)
            for i in range(n):
                (folder / f"{i:04d}.jpg").write_bytes(_jpeg(colour))
    task = load_cifar("cifar10", tmp_path, seed=0)
    assert task.num_items == 46 and len(task.split["test"]) == 6
    red = task.data.images[:, 0].float().mean(dim=(1, 2)) > 128
    assert torch.equal(red, task.labels() == 0)

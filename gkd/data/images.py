"""Image classification sets as ``Task`` objects (``kind="image"``).

- ``digits``: scikit-learn's 8x8 handwritten digits (1,797 images, embedded: no file), a
  stratified 60/20/20 split drawn from the seed.
- ``cifar10`` / ``cifar100``: the official python format (``cifar-10-batches-py/`` with
  ``data_batch_1..5`` and ``test_batch``; ``cifar-100-python/`` with ``train`` and ``test``), or
  CIFAR-10 in ImageFolder layout (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), as a folder
  or as ``cifar10/cifar10-images.zip``. JPEGs are decoded once and cached as arrays under
  ``GKD_CACHE_DIR``. The validation set is 5,000 training images (held out, drawn from the seed),
  the test set the official one.
"""
from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import DataNotFoundError, InvalidDataError
from ..io import cache_dir, file_digest, read_cache, write_cache
from .catalog import register
from .pickles import load_pickle
from .task import Task


@dataclass
class ImageSet:
    """Images as uint8 (N, C, H, W) with labels (N,), the per-channel mean and std used to
    normalise them, and whether training batches are augmented (random crop with ``pad`` pixels
    of zero padding, and horizontal flip: the standard CIFAR recipe)."""

    images: Tensor
    labels: Tensor
    mean: Tensor
    std: Tensor
    augment: bool = False
    pad: int = 4

    def __len__(self) -> int:
        return int(self.images.size(0))

    @property
    def channels(self) -> int:
        return int(self.images.size(1))

    def batch(self, index: Tensor, device: torch.device | str = "cpu", train: bool = False,
              generator: torch.Generator | None = None) -> Tensor:
        """Normalised float images at ``index``; augmented when ``train`` and ``augment``."""
        x = self.images[index].to(device).float().div_(255)
        x = (x - self.mean.to(device).view(1, -1, 1, 1)) / self.std.to(device).view(1, -1, 1, 1)
        if train and self.augment:
            x = crop_and_flip(x, self.pad, generator)
        return x


def crop_and_flip(x: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """Per image: a random ``H x W`` crop of the image padded by ``pad`` zeros on each side, and a
    horizontal flip with probability 1/2 (vectorised; deterministic under ``generator``)."""
    b, c, h, w = x.shape
    gen_device = generator.device if generator is not None else "cpu"
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=gen_device).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=gen_device).to(x.device)
    flip = (torch.rand(b, generator=generator, device=gen_device) < 0.5).to(x.device)
    rows = (dy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1).expand(b, c, h, w + 2 * pad)
    cropped = padded.gather(2, rows)
    cols = torch.arange(w, device=x.device).expand(b, w)
    cols = torch.where(flip.view(b, 1), w - 1 - cols, cols) + dx.view(b, 1)
    return cropped.gather(3, cols.view(b, 1, 1, w).expand(b, c, h, w))


def _stats(images: Tensor) -> tuple[Tensor, Tensor]:
    x = images.float().div(255)
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3)).clamp_min(1e-3)


def _task(name: str, images: Tensor, labels: Tensor, split: dict[str, Tensor], num_classes: int,
          augment: bool, info: dict) -> Task:
    train = split["train"]
    mean, std = _stats(images[train])
    data = ImageSet(images.contiguous(), labels.long(), mean, std, augment=augment)
    return Task(name, "image", data, split, num_classes, info=info)


def _holdout(index: Tensor, count: int, seed: int) -> tuple[Tensor, Tensor]:
    """``index`` split into (kept, held out) with ``count`` held out, drawn from ``seed``."""
    order = index[torch.randperm(len(index), generator=torch.Generator().manual_seed(seed))]
    return order[count:].sort().values, order[:count].sort().values


@register("digits", kind="image", splits=("random",))
def load_digits(name: str = "digits", root: Path | None = None, seed: int = 0, download: bool = False) -> Task:
    """scikit-learn's digits: 1,797 8x8 grey images, 10 classes; 60/20/20 split by class."""
    from sklearn.datasets import load_digits as sk_digits

    raw = sk_digits()
    images = torch.from_numpy((raw.images * (255.0 / 16.0)).round().astype(np.uint8)).unsqueeze(1)
    labels = torch.from_numpy(raw.target).long()
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list[Tensor]] = {"train": [], "valid": [], "test": []}
    for c in range(10):
        members = (labels == c).nonzero().view(-1)
        members = members[torch.randperm(len(members), generator=gen)]
        n_train, n_valid = int(0.6 * len(members)), int(0.2 * len(members))
        parts["train"].append(members[:n_train])
        parts["valid"].append(members[n_train:n_train + n_valid])
        parts["test"].append(members[n_train + n_valid:])
    split = {k: torch.cat(v).sort().values for k, v in parts.items()}
    return _task("digits", images, labels, split, 10, augment=False,
                 info={"source": "sklearn.datasets.load_digits"})


# ----------------------------------------------------------------------------- CIFAR


def _python_format(folder: Path, files: list[str], label_key: str) -> tuple[Tensor, Tensor]:
    """The images and labels of CIFAR's python batches (read by ``gkd.data.pickles``: nothing in
    them runs); a batch that lacks its arrays or whose counts disagree is an error naming it."""
    xs, ys = [], []
    for name in files:
        path = folder / name
        blob = load_pickle(path)
        if not isinstance(blob, dict) or "data" not in blob or label_key not in blob:
            raise InvalidDataError(f"{path}: a CIFAR batch holds a dict with 'data' and {label_key!r}")
        data, labels = np.asarray(blob["data"]), np.asarray(blob[label_key])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or labels.shape != (data.shape[0],):
            raise InvalidDataError(f"{path}: 'data' is {data.shape} and {label_key!r} {labels.shape}; a CIFAR "
                                   f"batch holds N x 3072 bytes and N labels")
        xs.append(data.astype(np.uint8).reshape(-1, 3, 32, 32))
        ys.append(labels.astype(np.int64))
    return torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))


def _image_folder(members: dict[str, list[tuple[str, callable]]]) -> dict[str, tuple[Tensor, Tensor]]:
    """Decode ``{part: [(class_name, read_bytes), ...]}``; classes sorted by name get labels 0.."""
    from PIL import Image

    classes = sorted({c for items in members.values() for c, _ in items})
    out = {}
    for part, items in members.items():
        xs = np.empty((len(items), 3, 32, 32), dtype=np.uint8)
        ys = np.empty(len(items), dtype=np.int64)
        for i, (cls, read) in enumerate(items):
            with Image.open(io.BytesIO(read())) as img:
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
            if arr.shape != (32, 32, 3):
                raise ValueError(f"expected 32x32 images, found {arr.shape[1]}x{arr.shape[0]} in class {cls}")
            xs[i] = arr.transpose(2, 0, 1)
            ys[i] = classes.index(cls)
        out[part] = (torch.from_numpy(xs), torch.from_numpy(ys))
    return out


def _folder_members(root: Path) -> dict[str, list[tuple[str, callable]]]:
    return {part: [(p.parent.name, p.read_bytes) for p in sorted((root / part).glob("*/*.jpg"))]
            for part in ("train", "test")}


MAX_IMAGE_BYTES = 1 << 20  # a 32x32 image is a few KB as a JPEG or PNG; a larger member is refused


def _zip_members(archive: zipfile.ZipFile) -> dict[str, list[tuple[str, callable]]]:
    """``{part: [(class name, read bytes), ...]}`` of the images under ``<part>/<class>/`` in the
    archive. A member whose stated size exceeds ``MAX_IMAGE_BYTES`` is refused before anything is
    decompressed (zipfile never yields more than the stated size)."""
    members: dict[str, list[tuple[str, callable]]] = {"train": [], "test": []}
    for info in sorted(archive.infolist(), key=lambda i: i.filename):
        parts = info.filename.split("/")
        if len(parts) >= 3 and parts[-3] in members and info.filename.lower().endswith((".jpg", ".jpeg", ".png")):
            if info.file_size > MAX_IMAGE_BYTES:
                raise InvalidDataError(f"{archive.filename}: member {info.filename} says it is {info.file_size:,} "
                                       f"bytes, more than a 32x32 image can be ({MAX_IMAGE_BYTES:,}); refused")
            members[parts[-3]].append((parts[-2], lambda n=info.filename: archive.read(n)))
    return members


def _content_key(path: Path) -> str:
    """A hash of a file's bytes, or of every JPEG under a folder (relative path and bytes): the
    cache of the decoded arrays is rebuilt whenever the images change, whatever their sizes and times."""
    if path.is_file():
        return file_digest(path)[:20]
    digest = hashlib.sha256()
    for image in sorted(path.rglob("*.jpg")):
        digest.update(str(image.relative_to(path)).encode() + b"\0" + image.read_bytes())
    return digest.hexdigest()[:20]


def _cached_arrays(key: str, source: Path, decode) -> dict[str, tuple[Tensor, Tensor]]:
    """The decoded arrays of ``source`` from the cache, or decoded (and cached when the cache is
    writable); an unreadable cache file is rebuilt with a warning."""
    path = cache_dir("images") / f"{key}-{_content_key(source)}.pt"
    arrays = read_cache(path)
    if isinstance(arrays, dict) and set(arrays) == {"train", "test"}:
        return arrays
    arrays = decode()
    write_cache(arrays, path)
    return arrays


def _cifar_arrays(name: str, root: Path) -> tuple[Tensor, Tensor, Tensor, Tensor, str]:
    if name == "cifar10":
        python = root / "cifar10" / "cifar-10-batches-py"
        if not python.exists():
            python = root / "cifar-10-batches-py"
        if python.exists():
            train = _python_format(python, [f"data_batch_{i}" for i in range(1, 6)], "labels")
            test = _python_format(python, ["test_batch"], "labels")
            return *train, *test, str(python)
        for folder in (root / "cifar10" / "images", root / "cifar10"):
            if (folder / "train").is_dir() and (folder / "test").is_dir():
                arrays = _cached_arrays("cifar10-folder", folder,
                                        lambda f=folder: _image_folder(_folder_members(f)))
                return *arrays["train"], *arrays["test"], str(folder)
        archive = root / "cifar10" / "cifar10-images.zip"
        if archive.exists():
            def decode() -> dict:
                with zipfile.ZipFile(archive) as z:
                    return _image_folder(_zip_members(z))
            arrays = _cached_arrays("cifar10-zip", archive, decode)
            return *arrays["train"], *arrays["test"], str(archive)
        raise DataNotFoundError(
            f"CIFAR-10 not found under {root}: place the python version as {root}/cifar10/cifar-10-batches-py/ "
            f"(data_batch_1..5, test_batch), or the ImageFolder JPEGs as {root}/cifar10/cifar10-images.zip "
            f"or {root}/cifar10/{{train,test}}/<class>/*.jpg")
    python = root / "cifar100" / "cifar-100-python"
    if not python.exists():
        python = root / "cifar-100-python"
    if python.exists():
        train = _python_format(python, ["train"], "fine_labels")
        test = _python_format(python, ["test"], "fine_labels")
        return *train, *test, str(python)
    raise DataNotFoundError(f"CIFAR-100 not found under {root}: place the python version as "
                            f"{root}/cifar100/cifar-100-python/ (files train, test)")


@register("cifar10", "cifar100", kind="image", splits=("official",), takes_subset=True,
          files=lambda name: f"{name}/ (python format, ImageFolder JPEGs or cifar10-images.zip; see gkd.data.images)")
def load_cifar(name: str, root: Path, seed: int = 0, subset: int | None = None, download: bool = False) -> Task:
    """CIFAR-10 or CIFAR-100 (see the module docstring for the layouts; gkd does not download
    them, so ``download`` changes nothing and missing files are an error naming them).
    ``subset``: keep that many training images (class-balanced, drawn from the seed) for a quick
    run on a CPU; the validation set then shrinks to subset / 5 images (so that validating each
    epoch stays cheap). Logits of images in no split are not computed (``gkd.predict`` gives NaN
    rows)."""
    x_train, y_train, x_test, y_test, source = _cifar_arrays(name, Path(root))
    num_classes = 10 if name == "cifar10" else 100
    images = torch.cat([x_train, x_test])
    labels = torch.cat([y_train, y_test])
    train_all = torch.arange(len(x_train))
    held_out = min(5000, len(x_train) // 10)
    if subset is not None:
        held_out = min(held_out, max(subset // 5, 1))
    train, valid = _holdout(train_all, held_out, seed)
    if subset is not None and subset < len(train):
        gen = torch.Generator().manual_seed(seed + 1)
        per_class = max(1, subset // num_classes)
        keep = [m[torch.randperm(len(m), generator=gen)[:per_class]]
                for m in (train[labels[train] == c] for c in range(num_classes))]
        train = torch.cat(keep).sort().values
    test = torch.arange(len(x_train), len(images))
    return _task(name, images, labels, {"train": train, "valid": valid, "test": test}, num_classes,
                 augment=True, info={"source": source, "subset": subset})

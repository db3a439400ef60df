"""The model zoo: ``build(name, task, ...)`` makes a model sized for a task."""
from __future__ import annotations

from torch import nn

from ..data.task import Task
from ..errors import MismatchError, UnknownNameError
from .base import LayerStack
from .gat import GAT
from .gcn import GCN
from .gin import GIN
from .gine import GINE
from .mlp import MLP
from .resnet import ResNet
from .sage import SAGE
from .vit import TinyViT

MODELS: dict[str, type[LayerStack]] = {"mlp": MLP, "gcn": GCN, "sage": SAGE, "gat": GAT, "gin": GIN, "gine": GINE}
IMAGE_MODELS = ("resnet", "vit")


def available() -> list[str]:
    return sorted([*MODELS, *IMAGE_MODELS, "cpf", "nosmog"])


def build(name: str, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
          norm: str | None = None) -> nn.Module:
    """A model sized for ``task``: input width, class count, node or graph level, feature encoder
    (and, for models that read edge features such as ``gine``, the edge encoder).
    ``cpf`` is CPF's label-propagation student, bound to the task's nodes and training labels;
    ``nosmog`` an MLP on node features and DeepWalk positional embeddings (NOSMOG's student).
    Image tasks take ``resnet`` (``hidden``: base width, ``num_layers``: blocks per stage) or
    ``vit`` (``hidden``: token width, ``num_layers``: encoder layers; 4x4 patches, 2x2 on images
    under 16 pixels)."""
    if task.kind == "image":
        return _build_image_model(name, task, hidden, num_layers, dropout)
    if name in IMAGE_MODELS:
        raise MismatchError(f"model {name!r} reads images, but task {task.name!r} is a {task.kind} task; "
                            f"graph models: {', '.join(sorted(MODELS))}")
    if name == "cpf":
        from .cpf import CPFStudent

        return CPFStudent.from_task(task, hidden=hidden, num_layers=num_layers, dropout=dropout)
    if name == "nosmog":
        from .positional import PositionalMLP

        return PositionalMLP.from_task(task, hidden=hidden, num_layers=num_layers, dropout=dropout, norm=norm)
    if name not in MODELS:
        raise UnknownNameError("model", name, available())
    level = "graph" if task.kind == "graph" else "node"
    cls = MODELS[name]
    extra = {}
    if getattr(cls, "uses_edge_features", False):
        if not task.edge_categorical_sizes and task.num_edge_features == 0:
            raise MismatchError(f"model {name!r} reads edge features, but task {task.name!r} has no edge "
                                f"features (its graphs carry no edge_attr); use 'gin' there")
        extra = {"edge_categorical_sizes": task.edge_categorical_sizes, "edge_dim": task.num_edge_features}
    return cls(task.num_features, hidden, task.num_classes, num_layers=num_layers, dropout=dropout,
               norm=norm, level=level, categorical_sizes=task.categorical_sizes, **extra)


def _build_image_model(name: str, task: Task, hidden: int, num_layers: int, dropout: float) -> nn.Module:
    size = int(task.data.images.size(-1))
    if name == "resnet":
        return ResNet(task.num_features, hidden, task.num_classes, blocks=num_layers, dropout=dropout,
                      image_size=size)
    if name == "vit":
        return TinyViT(task.num_features, hidden, task.num_classes, depth=num_layers, patch=4 if size >= 16 else 2,
                       image_size=size, dropout=dropout)
    raise MismatchError(f"task {task.name!r} is an image task; image models: {', '.join(IMAGE_MODELS)} "
                        f"(got {name!r})")


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

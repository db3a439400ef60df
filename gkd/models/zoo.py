"""The model zoo: every registered model by name, and ``build(name, task, ...)``, which sizes one
for a task. A model registers itself with ``@register`` on its class (a ``Model`` subclass with a
``name``, the ``kinds`` of task it is built for and ``from_task``); ``gkd.models`` imports every
module of its folder, so a new model file needs no other edit."""
from __future__ import annotations

from typing import TypeVar

from torch import nn

from ..data.task import Task
from ..errors import MismatchError
from ..registry import Registry, check_options
from .base import LayerStack, Model

MODELS: Registry[type[Model]] = Registry("model")

M = TypeVar("M", bound=type[Model])


def register(cls: M) -> M:
    """Class decorator: add a ``Model`` subclass to the zoo under its ``name``."""
    if not cls.kinds:
        raise ValueError(f"model {cls.__name__} names no task kinds it is built for (set kinds)")
    MODELS.add(cls.name, cls)
    return cls


def available() -> list[str]:
    """Every registered model name."""
    return MODELS.names()


INITS = ("default", "glorot")


def initialise(model: nn.Module, scheme: str) -> nn.Module:
    """``model`` with its weights started by ``scheme`` (one of ``INITS``), in place: ``default``
    leaves torch's initialisation; ``glorot`` gives every ``Linear`` weight Glorot-uniform values
    and a zero bias (PyG's ``GCNConv`` default)."""
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; valid inits: {', '.join(INITS)}")
    if scheme == "glorot":
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return model


def build(name: str, task: Task, hidden: int = 128, num_layers: int = 2, dropout: float = 0.0,
          norm: str | None = None, **options) -> Model:
    """Model ``name`` sized for ``task`` (its ``from_task``): input width, class count, node or
    graph level, feature encoders. Graph models (``mlp``, ``gcn``, ``sage``, ``sage-gcn``, ``gat``,
    ``gin``; ``gine`` reads edge features too) serve node and graph tasks; ``cpf`` is CPF's
    label-propagation student, bound to the task's nodes and training labels; ``nosmog`` an MLP on
    node features and DeepWalk positional embeddings (NOSMOG's student). Image tasks take
    ``resnet`` (``hidden``: base width, ``num_layers``: blocks per stage) or ``vit`` (``hidden``:
    token width, ``num_layers``: encoder layers; 4x4 patches, 2x2 on images under 16 pixels).
    ``options``: the model's own keyword arguments (its ``from_task``'s), checked by name."""
    cls = MODELS[name]
    if task.kind == "link":
        return _link_model(name, cls, task, hidden, num_layers, dropout, norm, options)
    if task.kind not in cls.kinds:
        fitting = [n for n, c in MODELS.items() if task.kind in c.kinds]
        what = "reads images" if cls.kinds == ("image",) else f"is built for {' and '.join(cls.kinds)} tasks"
        article = "an" if task.kind == "image" else "a"
        raise MismatchError(f"model {name!r} {what}, but task {task.name!r} is {article} {task.kind} task; "
                            f"{task.kind} models: {', '.join(fitting)}")
    check_options("model", name, cls.from_task, options, fixed=("task", "hidden", "num_layers", "dropout", "norm"))
    return cls.from_task(task, hidden=hidden, num_layers=num_layers, dropout=dropout, norm=norm, **options)


def _link_model(name: str, cls: type[Model], task: Task, hidden: int, num_layers: int, dropout: float,
                norm: str | None, options: dict) -> Model:
    """A ``LinkModel``: model ``name`` as its node encoder, ``options`` ``decoder`` ("mlp" or
    "dot") and ``decoder_layers`` (2) for the pair decoder, the rest the encoder's own."""
    from .link import LinkModel

    if not (issubclass(cls, LayerStack) and "node" in cls.kinds):
        encoders = [n for n, c in MODELS.items() if issubclass(c, LayerStack) and "node" in c.kinds]
        raise MismatchError(f"model {name!r} cannot encode the nodes of link task {task.name!r}; link models are "
                            f"built on a node encoder: {', '.join(encoders)}")
    decoder = options.pop("decoder", "mlp")
    layers = options.pop("decoder_layers", 2)
    check_options("model", name, cls.from_task, options, fixed=("task", "hidden", "num_layers", "dropout", "norm"))
    encoder = cls.from_task(task, hidden=hidden, num_layers=num_layers, dropout=dropout, norm=norm, **options)
    return LinkModel(encoder, hidden, decoder=decoder, decoder_layers=layers, dropout=dropout)


def count_parameters(model: Model) -> int:
    return sum(p.numel() for p in model.parameters())

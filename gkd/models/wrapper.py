"""Use any ``nn.Module`` (a user's PyG model, say) as a gkd teacher or student, unchanged."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.utils import scatter

from ..errors import MismatchError
from ..outputs import Outputs
from .base import Model

# the parts of a PyG batch passed to a forward parameter of the same name (when the batch has them)
DATA_FIELDS = ("x", "edge_index", "edge_weight", "edge_attr", "batch")
POOLS = ("mean", "add", "max")

Inputs = Callable[[Data], "tuple | Mapping[str, Any]"]


def _present(data: Data, name: str) -> Tensor | None:
    """``data``'s field ``name``, or None when the batch has no such field."""
    try:
        return getattr(data, name, None)
    except (AttributeError, KeyError):
        return None


def default_inputs(module: nn.Module) -> Inputs:
    """The call of ``module.forward`` on a PyG batch, built from the forward's parameter names and
    passed by keyword: ``x``, ``edge_index``, ``edge_weight``, ``edge_attr`` and ``batch`` go to the
    parameters of those names when the batch has them (so PyG's ``MLP(x, batch=None)`` never sees
    ``edge_index``, and a ``BasicGNN`` never reads ``batch`` as ``edge_weight``). A forward with one
    parameter named ``data`` gets the whole batch. A forward whose first parameters have other names
    (``forward(h, adj)``) gets the features in the first and the edges in the second, and one
    with ``*args`` alone gets ``(x, edge_index)``, as before. Another required parameter is an
    error that asks for ``inputs=``."""
    name = type(module).__name__
    params = inspect.signature(module.forward).parameters
    named = [p for p in params.values() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if [p.name for p in named] == ["data"]:
        return lambda data: {"data": data}
    if not named:  # forward(*args, **kwargs): PyG's positional convention
        return lambda data: (data.x, data.edge_index)
    bad = [p.name for p in named if p.kind == p.POSITIONAL_ONLY]
    if bad:
        raise TypeError(f"{name}.forward takes positional-only parameters {bad}; give HookedModel(inputs=lambda data: "
                        f"(data.x, data.edge_index)) with the arguments in its order")
    mapping: dict[str, str] = {f: f for f in DATA_FIELDS if f in params}
    free = [p for p in named if p.name not in DATA_FIELDS]
    for field in ("x", "edge_index"):  # unnamed features / edges: the first free positional parameters
        if field not in mapping and free and free[0].default is inspect.Parameter.empty:
            mapping[free.pop(0).name] = field
    missing = [p.name for p in free if p.default is inspect.Parameter.empty]
    if missing:
        raise TypeError(f"{name}.forward needs {missing}, which HookedModel cannot read off a PyG batch; give "
                        f"HookedModel(inputs=lambda data: {{...}}) returning its arguments by name")
    required = {p.name for p in named if p.default is inspect.Parameter.empty}

    def call(data: Data) -> dict[str, Any]:
        kwargs = {}
        for param, field in mapping.items():
            value = _present(data, field)
            if value is not None or param in required:
                kwargs[param] = value
        return kwargs

    return call


def _pool(h: Tensor, data: Data, how: str) -> Tensor:
    """``h``'s node rows reduced per graph of ``data`` (one graph when it has no ``batch``)."""
    batch = _present(data, "batch")
    if batch is None:
        batch = torch.zeros(h.size(0), dtype=torch.long, device=h.device)
    num_graphs = int(_present(data, "num_graphs") or (int(batch.max()) + 1 if batch.numel() else 1))
    return scatter(h, batch, dim=0, dim_size=num_graphs, reduce="sum" if how == "add" else how)


class HookedModel(Model):
    """Wrap ``module`` so it returns ``Outputs``: its return value becomes the logits and the
    outputs of the submodules named in ``hidden`` (``dict(module.named_modules())`` names, in
    order, e.g. ``convs.0`` of PyG's ``GCN``, ``lins.0`` of its ``MLP``) become
    ``Outputs.hidden``, captured with forward hooks.

    The module is called by its forward's parameter names (``default_inputs``): ``x``,
    ``edge_index``, ``edge_weight``, ``edge_attr``, ``batch``, each by keyword when the batch has
    it. ``inputs`` overrides that: a function of the PyG batch returning the positional arguments
    (a tuple) or the keyword arguments (a dict).

    ``pool``: for a graph task, whose batches hold several graphs and want one row of logits per
    graph, the module's node rows are reduced per graph (``"mean"``, ``"add"`` or ``"max"``, with
    ``data.batch``); ``Outputs.pooled`` is then the last hooked layer pooled the same way. A PyG
    ``GCN``/``GraphSAGE``/``GIN`` returns node rows, so on a graph task it needs ``pool`` (or a
    module that pools itself); node rows from a graph batch without ``pool`` are an error that
    says so.
    """

    def __init__(self, module: nn.Module, hidden: Sequence[str] = (), inputs: Inputs | None = None,
                 pool: str | None = None):
        super().__init__()
        if isinstance(hidden, str):
            raise TypeError(f"hidden is a list of layer names; got the string {hidden!r}: give [{hidden!r}]")
        if pool not in (None, *POOLS):
            raise ValueError(f"unknown pool {pool!r}; valid: None, {', '.join(POOLS)}")
        self.module = module
        self.pool = pool
        self.hidden_names = list(hidden)
        named = dict(module.named_modules())
        unknown = [n for n in self.hidden_names if n not in named]
        if unknown:
            valid = [n for n in named if n]
            raise ValueError(f"no submodule named {unknown} in {type(module).__name__}; "
                             f"valid names: {', '.join(valid)}")
        self.inputs = inputs or default_inputs(module)
        self._captured: dict[str, Tensor] = {}
        for name in self.hidden_names:
            named[name].register_forward_hook(self._capture(name))

    def _capture(self, name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _args: Any, output: Any) -> None:
            self._captured[name] = output[0] if isinstance(output, (tuple, list)) else output

        return hook

    def _call(self, data: Data) -> Any:
        args = self.inputs(data)
        return self.module(**args) if isinstance(args, Mapping) else self.module(*args)

    def forward(self, data: Data) -> Outputs:
        self._captured = {}
        result = self._call(data)
        logits = result.logits if isinstance(result, Outputs) else result
        hidden = [self._captured[n] for n in self.hidden_names]
        if self.pool is not None:
            pooled = _pool(hidden[-1], data, self.pool) if hidden else None
            return Outputs(logits=_pool(logits, data, self.pool), hidden=hidden, pooled=pooled)
        graphs = _present(data, "num_graphs") if _present(data, "batch") is not None else None
        if graphs is not None and isinstance(logits, Tensor) and logits.size(0) != graphs \
                and logits.size(0) == data.num_nodes:
            raise MismatchError(f"{type(self.module).__name__} returned one row per node ({logits.size(0)}) for a "
                                f"batch of {graphs} graphs; a graph task wants one per graph: "
                                f"HookedModel(..., pool='mean')")
        return Outputs(logits=logits, hidden=hidden)

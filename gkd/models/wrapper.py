"""Use any ``nn.Module`` (a user's PyG model, say) as a gkd teacher or student, unchanged."""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import Tensor, nn
from torch_geometric.data import Data

from ..outputs import Outputs
from .base import Model


def default_inputs(module: nn.Module) -> Callable[[Data], tuple]:
    """PyG's convention: ``forward(x, edge_index)``, plus ``batch`` when the forward takes one."""
    params = inspect.signature(module.forward).parameters
    if "batch" in params:
        return lambda data: (data.x, data.edge_index, getattr(data, "batch", None))
    return lambda data: (data.x, data.edge_index)


class HookedModel(Model):
    """Wrap ``module`` so it returns ``Outputs``: its return value becomes the logits and the
    outputs of the submodules named in ``hidden`` (``dict(module.named_modules())`` names, in
    order) become ``Outputs.hidden``, captured with forward hooks.

    ``inputs`` maps a PyG ``Data`` batch to the module's positional arguments (default:
    ``(x, edge_index)``, plus ``batch`` when the module's forward has a ``batch`` parameter).
    """

    def __init__(self, module: nn.Module, hidden: Sequence[str] = (),
                 inputs: Callable[[Data], tuple] | None = None):
        super().__init__()
        self.module = module
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

    def forward(self, data: Data) -> Outputs:
        self._captured = {}
        result = self.module(*self.inputs(data))
        logits = result.logits if isinstance(result, Outputs) else result
        return Outputs(logits=logits, hidden=[self._captured[n] for n in self.hidden_names])

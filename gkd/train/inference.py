"""``predict``: a trained model's logits for a task's items, in batches that bound the memory."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader

from ..data.task import Task
from ..models.base import row_independent, supports_row_blocks
from ..models.layerwise import layerwise_forward
from .config import TrainConfig

NODE_BLOCK_ROWS = 65_536  # rows per forward when a node model reads features alone


@torch.no_grad()
def predict(model: nn.Module, task: Task, config: TrainConfig | None = None, index: Tensor | None = None) -> Tensor:
    """Logits (on the CPU) for ``index`` (default: every node or graph of the task). A model
    whose rows are independent (``Model.row_independent``: an MLP) is run on the indexed nodes alone, in
    blocks of ``NODE_BLOCK_ROWS`` rows (its hidden activations for every node never coexist).
    The model is moved to ``config.device`` (a teacher loaded from the cache sits on the CPU)."""
    config = config or TrainConfig()
    device = torch.device(config.device)
    model.to(device).eval()
    if task.kind == "node":
        data = task.data
        if row_independent(model):  # features alone: blocks of rows bound the memory
            rows = torch.arange(data.num_nodes) if index is None else index
            # ``n_id``: the rows' node ids, for a model that also reads who each row is (``nosmog``)
            return torch.cat([model(Data(x=data.x[block].to(device), n_id=block.to(device), num_nodes=len(block)))
                              .logits.cpu() for block in rows.split(NODE_BLOCK_ROWS)])
        if config.layerwise or (config.layerwise is None and config.fanouts and supports_row_blocks(model)):
            logits = layerwise_forward(model, task.data_on(device)).logits.cpu()
        else:
            logits = model(task.data_on(device)).logits.cpu()
        return logits if index is None else logits[index]
    if task.kind == "image":
        if index is not None:
            return torch.cat([model(task.data.batch(b, device)).logits.cpu()
                              for b in index.split(max(config.batch_size, 256))])
        # every image of the splits; images in none of them (left out by a CIFAR subset) get NaN
        used = torch.cat(list(task.split.values())).unique()
        logits = predict(model, task, config, used)
        out = logits.new_full((task.num_items, logits.size(1)), float("nan"))
        out[used] = logits
        return out
    graphs = task.indexed_graphs()
    chosen = graphs if index is None else [graphs[i] for i in index.tolist()]
    loader = DataLoader(chosen, batch_size=max(config.batch_size, 256), shuffle=False)
    return torch.cat([model(batch.to(device)).logits.cpu() for batch in loader])

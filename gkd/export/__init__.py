"""The student leaves the lab: a trained model saved as a folder that loads without its dataset
(``save``, ``load``), and as TorchScript or ONNX programs checked by their runtimes."""
from __future__ import annotations

from .bundle import FORMAT, SavedModel, load, read_info, save
from .runtime import EXPORTABLE, TensorModel, check_onnx, check_torchscript, example_inputs, to_onnx, to_torchscript

__all__ = ["EXPORTABLE", "FORMAT", "SavedModel", "TensorModel", "check_onnx", "check_torchscript", "example_inputs",
           "load", "read_info", "save", "to_onnx", "to_torchscript"]

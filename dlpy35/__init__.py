"""dlpy35: Nielsen's "Neural Networks and Deep Learning" networks as symbolic PyTensor graphs.

The data flows ``data`` (fetch, verify, parse, split) -> ``device`` (shared
variables on the GPU or CPU) -> ``graph`` and ``layers`` (symbolic networks,
``pytensor.grad``, one scan-SGD builder) -> ``trainer`` (the one device-resident
training loop) -> the book's classes ``network``, ``network2`` and ``network3``.
``backprop`` is the hand-written BP1-BP4 that ``gradcheck`` compares the graph with.
``portable`` and ``export`` take a trained network out of Python (ONNX, a web page);
``images`` prepares a user's digit image as MNIST's were; ``cli`` and ``commands`` are
the ``dlpy35`` command.
"""

import importlib

__version__ = "0.1.0"

# Public names, imported on first use so that ``python -m dlpy35.data`` and
# ``python -m dlpy35.gradcheck`` do not import their own module twice.
_EXPORTS = {
    "DataError": "dlpy35.data", "fetch_mnist": "dlpy35.data", "load_mnist": "dlpy35.data",
    "Device": "dlpy35.device", "DeviceError": "dlpy35.device", "resolve": "dlpy35.device",
    "Network": "dlpy35.network", "TrainingDiverged": "dlpy35.network",
    "QuadraticCost": "dlpy35.costs", "CrossEntropyCost": "dlpy35.costs",
    "CheckpointError": "dlpy35.checkpoint", "SavedFileError": "dlpy35.files",
}
_MODULES = ("atomic", "backprop", "book", "checkpoint", "costs", "data", "device", "ensemble", "expand",
            "export", "figures", "files", "gradcheck", "graph", "images", "inputs", "layers", "mnist_loader",
            "network", "network2", "network3", "plots", "population", "portable", "results", "sweep",
            "trainer")
__all__ = [*_EXPORTS, *_MODULES]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"dlpy35.{name}")
    raise AttributeError(f"module 'dlpy35' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

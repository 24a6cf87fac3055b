"""dlpy35: Nielsen's "Neural Networks and Deep Learning" networks as symbolic PyTensor graphs.

The package is laid out by role, following the data:

* ``data`` -- fetch, verify, parse and split MNIST (or any MNIST-format set); a user's
  digit images prepared as MNIST's were; the expanded training set.
* ``engine`` -- the device, the symbolic networks (``graph``, ``layers``, the ``model``
  contract), one ``trainer`` told by an ``order`` and ``callbacks`` what differs between
  runs, its ``records``; populations; the hand-written ``backprop`` that ``gradcheck``
  compares the graph with.
* ``storage`` -- atomic writes, checkpoints, saved networks, run directories, CSV tables, caches.
* ``network``, ``network2``, ``network3``, ``mnist_loader`` (and ``chapter6``'s presets) --
  the book's API, translated into the engine.
* ``export`` -- a trained network out of Python: plain layers, ONNX, an offline web page.
* ``studies`` -- sweeps, the book's results table and figures, their plots.
* ``cli`` -- the ``dlpy35`` command: parse, call the library, report.
"""

import importlib

__version__ = "0.1.0"

# Public names, imported on first use so that ``python -m dlpy35.data`` and
# ``python -m dlpy35.cli.gradcheck`` do not import their own module twice.
_EXPORTS = {
    "DataError": "dlpy35.data", "fetch_mnist": "dlpy35.data", "load_mnist": "dlpy35.data",
    "Device": "dlpy35.engine.device", "DeviceError": "dlpy35.engine.device",
    "resolve": "dlpy35.engine.device",
    "Network": "dlpy35.network", "TrainingDiverged": "dlpy35.network",
    "QuadraticCost": "dlpy35.engine.costs", "CrossEntropyCost": "dlpy35.engine.costs",
    "CheckpointError": "dlpy35.storage.checkpoint", "SavedFileError": "dlpy35.storage.saved_files",
}
_MODULES = ("data", "engine", "storage", "export", "studies", "cli", "chapter6", "mnist_loader", "network",
            "network2", "network3")
__all__ = [*_EXPORTS, *_MODULES]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _MODULES:
        return importlib.import_module(f"dlpy35.{name}")
    raise AttributeError(f"module 'dlpy35' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

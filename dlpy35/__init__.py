"""dlpy35: Nielsen's "Neural Networks and Deep Learning" networks as symbolic PyTensor graphs.

In a notebook::

    >>> import dlpy35
    >>> train, validation, test = dlpy35.load_mnist()       # (X (n, 784) in [0, 1), labels (n,)) each
    >>> net = dlpy35.network2.Network([784, 30, 10], seed=0)
    >>> _ = net.SGD(train, 1, 10, 0.5, evaluation_data=validation, monitor_evaluation_accuracy=True,
    ...             verbose=False)
    >>> net.score(*test) > 0.9                               # the accuracy on the 10,000 test digits
    True
    >>> net.predict(test[0][:5]), test[1][:5]                # labels, as the book's evaluate counts them
    (array([7, 2, 1, 0, 4]), array([7, 2, 1, 0, 4]))
    >>> net.predict_proba(test[0][:5]).shape                 # each row sums to 1
    (5, 10)
    >>> fig = dlpy35.plot_history(net.history, n_eval=len(validation[0]))  # a Figure: a notebook shows it
    >>> net.save("ch3.json")
    >>> again = dlpy35.load("ch3.json")                      # any saved network: .json or .npz
    >>> from dlpy35.data.digit_images import to_png
    >>> to_png(test[0][0], "seven.png")                      # an image file of a digit
    >>> again.predict_files(["seven.png"])                   # prepared as dlpy35 predict prepares it
    array([7])

Every network kind -- ``network.Network`` (chapter 1), ``network2.Network`` (chapter 3),
``network3.Network`` (chapter 6) -- keeps the book's methods and adds ``predict``, ``predict_proba``,
``score`` and ``predict_files`` (:class:`dlpy35.engine.predictor.Predictor`).  The names of
``__all__`` are imported on first use, so that ``import dlpy35`` stays cheap.

The package is laid out by role, following the data:

* ``data`` -- fetch, verify, parse and split MNIST (or any MNIST-format set); a user's
  digit images prepared as MNIST's were; the expanded training set.
* ``engine`` -- the device, the symbolic networks (``graph``, ``layers``, the ``model``
  contract), one ``trainer`` told by an ``order`` and ``callbacks`` what differs between
  runs, its ``records``; populations; the hand-written ``backprop`` that ``gradcheck``
  compares the graph with; the ``predictor`` methods every network shares.
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
# ``python -m dlpy35.cli.gradcheck`` do not import their own module twice.  "module:name" where the
# public name is another.
_EXPORTS = {
    "load": "dlpy35.storage.saved_networks:load_model", "ModelError": "dlpy35.storage.saved_networks",
    "DataError": "dlpy35.data", "fetch_mnist": "dlpy35.data", "load_mnist": "dlpy35.data",
    "load_data": "dlpy35.data", "Dataset": "dlpy35.data",
    "Device": "dlpy35.engine.device", "DeviceError": "dlpy35.engine.device",
    "resolve": "dlpy35.engine.device",
    "Network": "dlpy35.network", "TrainingDiverged": "dlpy35.network",
    "QuadraticCost": "dlpy35.engine.costs", "CrossEntropyCost": "dlpy35.engine.costs",
    "CheckpointError": "dlpy35.storage.checkpoint", "SavedFileError": "dlpy35.storage.saved_files",
    "plot_history": "dlpy35.studies.plots", "plot_learning_speed": "dlpy35.studies.plots",
    "plot_confusion": "dlpy35.studies.plots", "plot_sweep": "dlpy35.studies.plots",
}
_MODULES = ("data", "engine", "storage", "export", "studies", "cli", "chapter6", "mnist_loader", "network",
            "network2", "network3")
__all__ = [*_EXPORTS, *_MODULES]


def __getattr__(name):
    if name in _EXPORTS:
        module, _, attr = _EXPORTS[name].partition(":")
        return getattr(importlib.import_module(module), attr or name)
    if name in _MODULES:
        return importlib.import_module(f"dlpy35.{name}")
    raise AttributeError(f"module 'dlpy35' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)

"""A saved network of any kind, read back for ``evaluate``, ``predict`` and ``export``.

``network.json`` (the book's JSON, written by ``dlpy35 train``, ``network.Network.save``,
``network2.Network.save`` and the book's own ``network2.py``) and ``network.npz``
(``dlpy35 train-conv``, ``network3.Network.save``) are told apart by their first bytes,
not by their names.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ModelError", "load_model", "metadata", "check_data"]

_KINDS = ("a network.json of dlpy35 train (or the book's network2.save), "
          "or a network.npz of dlpy35 train-conv")


class ModelError(ValueError):
    """A model file that is missing, unreadable, or not a saved dlpy35 network."""


def load_model(path, device="auto", mode=None):
    """The network saved in `path`, on `device`: a :class:`dlpy35.network.Network` for a JSON file, a
    :class:`dlpy35.network3.Network` for an npz file.

    Raises
    ------
    ModelError
        One line naming the file: missing, a directory, or not a saved network.
    """
    from dlpy35 import network, network3
    from dlpy35.engine.device import DeviceError
    from dlpy35.storage.saved_files import SavedFileError

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: {'is a directory' if path.is_dir() else 'no such file'}; give {_KINDS}")
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        if head.startswith(b"PK"):
            return network3.load(path, mode=mode, device=device)
        if head.startswith(b"{"):
            return network.load(path, mode=mode, device=device)
    except (SavedFileError, DeviceError) as exc:
        raise ModelError(str(exc)) from None
    raise ModelError(f"{path}: not a saved dlpy35 network; give {_KINDS}")


def metadata(net):
    """What `net` was trained on (:class:`dlpy35.storage.metadata.Metadata`), MNIST's digits assumed for a
    file that records nothing (:meth:`~dlpy35.storage.metadata.Metadata.assumed`)."""
    return net.metadata.assumed(net.n_out)


def check_data(net, data, path):
    """ModelError in one line, with the fix, unless `net` (saved at `path`) was trained on `data` (a
    :class:`dlpy35.data.Dataset`): the same data set, classes and image size (for a file that records no
    data set, the same number of inputs and classes)."""
    problem = net.metadata.mismatch(data, net.n_in, net.n_out)
    if problem is None:
        return
    if not net.metadata.recorded:
        fix = "give the data set it was trained on (--dataset DIR)"
    elif net.metadata.dataset == "MNIST":
        fix = "evaluate it on MNIST (leave out --dataset)"
    else:
        fix = f"give --dataset DIR of {net.metadata.dataset}"
    raise ModelError(f"{path}: {problem}; {fix}")


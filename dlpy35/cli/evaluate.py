"""A saved network's accuracy on the test images, and its confusion matrix.

Prints ``accuracy: 95.12% (9512 / 10000)``, then the confusion matrix (rows: the
true class, columns: the network's answer).  ``--plot FILE`` draws the matrix as a
PNG.  The test set is MNIST's, or that of ``--dataset DIR``.

Examples::

    dlpy35 evaluate runs/ch1/network.json
    dlpy35 evaluate runs/conv/network.npz --set validation --plot confusion.png
    dlpy35 evaluate fashion.json --dataset data/fashion
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dlpy35.cli.common import add_data_flags, add_device_flags, add_overwrite_flag, fail


def configure(p):
    p.add_argument("model", type=Path, metavar="MODEL", help="a saved network (.json or .npz)")
    p.add_argument("--set", choices=("test", "validation"), default="test", help="the images evaluated")
    p.add_argument("--plot", type=Path, default=None, metavar="FILE", help="also draw the confusion matrix")
    add_overwrite_flag(p, "a file that --plot names")
    add_data_flags(p)
    add_device_flags(p)


def confusion(labels, predicted, n_classes) -> np.ndarray:
    """(n_classes, n_classes) counts: row the true class, column the answer."""
    m = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(m, (labels, predicted), 1)
    return m


def matrix_text(m) -> str:
    """The confusion matrix as aligned text, classes numbered along both edges."""
    width = max(len(str(m.max())), len(str(len(m) - 1))) + 1
    head = " " * (width + 3) + "".join(f"{j:>{width}}" for j in range(len(m)))
    rows = [f"{i:>{width}} | " + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(m)]
    return "\n".join(["true \\ predicted", head, *rows])


def execute(p, args) -> int:
    from dlpy35.cli.common import check_outputs
    from dlpy35.data import DataError, load_data
    from dlpy35.storage.outputs import given
    from dlpy35.storage.saved_networks import ModelError, check_data, load_model

    try:
        check_outputs(args, inputs=[given("MODEL", args.model)])
    except ValueError as exc:
        p.error(str(exc))
    try:
        net = load_model(args.model, args.device, args.mode)
        data = load_data(args.data_dir, args.dataset)
        check_data(net, data, args.model)
        x, labels = data.test if args.set == "test" else data.validation
        predicted = np.argmax(net.outputs(x, f"{data.name} {args.set} images"), axis=1)
    except (ModelError, DataError, ValueError) as exc:
        return fail(p.prog, exc)
    n_classes = max(int(labels.max()) + 1, int(predicted.max()) + 1)
    m = confusion(labels, predicted, n_classes)
    correct = int(np.trace(m))
    print(f"accuracy: {100 * correct / len(labels):.2f}% ({correct} / {len(labels)})")
    print(matrix_text(m))
    if data.classes:  # the matrix numbers the classes; a data set that names them gets a legend
        print("classes: " + ", ".join(f"{k} {name}" for k, name in enumerate(data.classes)))
    if args.plot:
        from dlpy35.studies.plots import plot_confusion

        title = f"{args.model.name} on {data.name} {args.set}: {correct / len(labels):.2%}"
        plot_confusion(m, args.plot, title)
        print(f"plot: {args.plot}")
    return 0

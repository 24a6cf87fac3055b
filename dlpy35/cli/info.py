"""What a saved network is: its kind, sizes, data set, classes and, where recorded, its accuracy.

MODEL is a ``network.json`` or ``network.npz``; for a RUN_DIR (``--run-dir`` of
``dlpy35 train`` or ``train-conv``) its network file is described, and its ``args.json``
(the command that trained it) and ``epochs.csv`` (its best epoch) are read too.  A file
saved by an older dlpy35 records no data set: it is said so, and MNIST's digits assumed.

Examples::

    dlpy35 info runs/ch1/network.json
    dlpy35 info runs/conv
"""

from __future__ import annotations

from pathlib import Path

from dlpy35.cli.common import fail
from dlpy35.text import plural


def configure(p):
    p.add_argument("model", type=Path, metavar="MODEL|RUN_DIR", help="a saved network, or a run directory")


def _network_file(path: Path) -> Path:
    """The network file of `path`: itself, or the one in the run directory `path` (ModelError if none)."""
    from dlpy35.storage.rundir import NETWORK_FILES
    from dlpy35.storage.saved_networks import ModelError

    if not path.is_dir():
        return path
    found = [path / name for name in NETWORK_FILES if (path / name).is_file()]
    if not found:
        raise ModelError(f"{path}: a directory without {' or '.join(NETWORK_FILES)}; give a saved network or "
                         "the run directory of a finished run")
    return found[0]


def _kind(net) -> list[str]:
    """The lines that say what kind of network `net` is, and its layers."""
    if hasattr(net, "sizes"):
        return ["kind: sigmoid network (network.json, chapters 1 and 3)",
                f"sizes: {' '.join(map(str, net.sizes))}", f"cost: {net.cost.name}"]
    return ["kind: layer stack (network.npz, chapter 6)",
            *(f"layer {i}: {_layer(layer.spec())}" for i, layer in enumerate(net.layers))]


def _layer(spec) -> str:
    """One layer of a chapter-6 network, as its spec describes it."""
    if spec["type"] == "ConvPoolLayer":
        f, c, h, w = spec["filter_shape"]
        return (f"convolution {f} maps of {c}x{h}x{w} on {'x'.join(map(str, spec['image_shape'][1:]))} "
                f"images, max-pool {'x'.join(map(str, spec['poolsize']))}, {spec['activation_fn']}")
    dropout = f", dropout {spec['p_dropout']}" if spec.get("p_dropout") else ""
    if spec["type"] == "SoftmaxLayer":
        return f"softmax {spec['n_in']} -> {spec['n_out']}{dropout}"
    return f"fully connected {spec['n_in']} -> {spec['n_out']}, {spec['activation_fn']}{dropout}"


def _data(net) -> list[str]:
    """The lines that say what `net` was trained on, how, and how well, as its file records it."""
    from dlpy35.storage.saved_networks import metadata

    meta = metadata(net)
    shape = "x".join(map(str, meta.image_shape)) if meta.image_shape else "?"
    if net.metadata.recorded:
        lines = [f"data set: {meta.dataset} ({shape} images, preparation {meta.preparation or 'none known'})"]
    else:
        lines = ["data set: not recorded (saved by an older dlpy35, or without its data set): MNIST's "
                 "digits assumed"]
    lines.append(f"classes: {' '.join(meta.classes)}")
    training = meta.training
    if training.get("command"):
        lines.append(f"trained by: {training['command']}{_settings(training.get('args') or {})}")
    if meta.dlpy35:
        lines.append(f"saved by: dlpy35 {meta.dlpy35}")
    return lines + _results(meta.results)


def _settings(args) -> str:
    """The settings that make a run what it is, of a training command's arguments."""
    keys = ("net", "epochs", "mini_batch_size", "eta", "lmbda", "cost", "seed", "ensemble")
    shown = [f"{k} {args[k]}" for k in keys if args.get(k) is not None]
    return f" ({', '.join(shown)})" if shown else ""


def _results(results) -> list[str]:
    """The lines of the accuracies training measured (:func:`dlpy35.storage.metadata.run_results`)."""
    lines = []
    if results.get("final"):
        lines.append(f"accuracy after {plural(results['epochs'], 'epoch')}: {_accuracies(results['final'])}")
    best = results.get("best")
    if best:
        sets = {k: v for k, v in best.items() if k not in ("epoch", "by")}
        lines.append(f"best epoch {best['epoch']} (by {best['by']} accuracy): {_accuracies(sets)}")
    if results.get("ensemble_test_accuracy") is not None:
        lines.append(f"ensemble (plurality vote): test {results['ensemble_test_accuracy']:.2%}")
    return lines


def _accuracies(sets) -> str:
    return ", ".join(f"{name} {value:.2%}" for name, value in sets.items() if isinstance(value, (int, float)))


def _run_lines(directory: Path) -> list[str]:
    """What a run directory's ``args.json`` and ``epochs.csv`` say: the command, and the best epoch."""
    from dlpy35.storage.rundir import RunDir, read_args
    from dlpy35.storage.tables import read_csv

    lines = []
    try:
        args = read_args(directory / RunDir.ARGS)
        command, argv = str(args["command"]), [str(a) for a in args["argv"]]
        argv = argv[1:] if argv[:1] == command.split()[-1:] else argv  # `dlpy35 train ...` names it there
        lines.append(f"run: {' '.join([command, *argv])}")
    except (OSError, ValueError, TypeError, KeyError):
        lines.append("run: no readable args.json")
    try:
        rows = [r for r in read_csv(directory / "epochs.csv") if r.get("net") in ("0", None)]
        best = max(rows, key=lambda r: (int(r["evaluation_correct"]), -int(r["epoch"])))
        correct, total = int(best["evaluation_correct"]), int(best["evaluation_total"])
        lines.append(f"epochs.csv: {plural(len(rows), 'epoch')}; best epoch {best['epoch']}: "
                     f"{correct} / {total} ({correct / total:.2%})")
    except (OSError, ValueError, TypeError, KeyError, ZeroDivisionError):
        lines.append("epochs.csv: none readable")
    return lines


def execute(p, args) -> int:
    from dlpy35.storage.saved_networks import ModelError, load_model

    try:
        path = _network_file(args.model)
        net = load_model(path, "cpu")
    except ModelError as exc:
        return fail(p.prog, exc)
    lines = [f"file: {path}", *_kind(net), *_data(net)]
    if args.model.is_dir():
        lines += _run_lines(args.model)
    print("\n".join(lines))
    return 0

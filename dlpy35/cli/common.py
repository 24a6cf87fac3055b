"""What every dlpy35 command shares: a user's mistake is one line and exit status 2, Ctrl-C is 130.

``train_gpu.py``, ``train_conv.py``, the benchmarks and the ``dlpy35`` command build
their parsers with :class:`ArgumentParser` and its argument types, and run their
``main`` through :func:`run`, so that a bad flag, a bad file, an interruption and a
warning read the same in all of them.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
import warnings
from pathlib import Path

from dlpy35.cli import signals
from dlpy35.cli.signals import INTERRUPTED
from dlpy35.storage import caches
from dlpy35.text import plural

USER_ERROR = 2


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser with one-line errors and no abbreviated flags.

    argparse prints its whole usage block above the problem; the block says nothing
    about the problem and pushes it off a small terminal, so a bad flag prints
    ``prog: error: problem (see --help)`` alone and exits 2.  Abbreviations are off
    so that a retired flag (``--mini-batch``) is an error rather than silently the
    flag it prefixes.

    Parameters
    ----------
    doc : str, optional
        A module docstring: its first paragraph is the description, the rest the epilog.
    """

    def __init__(self, doc=None, **kwargs):
        if doc is not None:
            summary, _, rest = doc.partition("\n\n")
            kwargs.setdefault("description", summary)
            kwargs.setdefault("epilog", rest or None)
            kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)

    def error(self, message):
        self.exit(USER_ERROR, f"{self.prog}: error: {in_flags(message)} (see --help)\n")


def _integer(text, low):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected an integer >= {low}, got {text}")
    return value


def positive_int(text):
    """An integer >= 1: sizes, counts of images, networks and mini-batches."""
    return _integer(text, 1)


def natural_int(text):
    """An integer >= 0: epochs and patience counts, where 0 means none."""
    return _integer(text, 0)


def finite_float(text):
    """A finite number (``nan`` and ``inf`` parse as floats but mean nothing as a rate)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def positive_float(text):
    """A finite number > 0: timeouts and rates."""
    value = finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text}")
    return value


def add_training_flags(p, chapter3=None):
    """The flags every training command shares, with one meaning and one check each.

    ``--epochs --mini-batch-size --n-train --device --mode --epoch-mode --dtype
    --data-dir`` on `p`; ``--cost --init --reg --evaluation`` on `chapter3` (a
    group of `p`, or `p` itself when None).
    """
    p.add_argument("--epochs", type=natural_int, default=30, help="epochs to train")
    p.add_argument("--mini-batch-size", type=positive_int, default=10, help="examples per SGD step")
    p.add_argument("--n-train", type=positive_int, default=None, help="use only the first N training images")
    add_device_flags(p)
    p.add_argument("--epoch-mode", choices=["scan", "step"], default="scan",
                   help="scan: a few compiled calls per epoch, each many mini-batches (default); step: one "
                        "call per mini-batch")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                   help="training precision (float64 runs on a CPU mode, NUMBA by default)")
    add_data_flags(p)
    ch3 = chapter3 or p
    ch3.add_argument("--cost", choices=["quadratic", "cross-entropy"], default="quadratic", help="the cost")
    ch3.add_argument("--init", choices=["large", "default"], default=None,
                     help="weights N(0,1) (large) or N(0,1/n_in) (default); default: large for the quadratic "
                          "cost, default for cross-entropy, as in the book")
    ch3.add_argument("--reg", choices=["l2", "l1"], default="l2", help="the regulariser that --lmbda weighs")
    ch3.add_argument("--evaluation", choices=["test", "validation"], default="test",
                     help="data evaluated each epoch (early stopping and the schedule should use validation)")


def add_device_flags(p):
    """``--device`` and ``--mode``: where a network runs, and on which PyTensor backend."""
    p.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto",
                   help="auto: a CUDA GPU when JAX sees one, else the CPU")
    p.add_argument("--mode", default=None,
                   help="PyTensor mode: JAX, NUMBA, CVM... (default: CUDA's JAX, or the CPU rule of "
                        "dlpy35 calibrate)")


def add_data_flags(p, dataset=True):
    """``--data-dir`` (where MNIST is kept) and, with `dataset`, ``--dataset`` (another MNIST-format
    data set, or image folders, instead)."""
    from dlpy35.data import DATA_ENV, default_data_dir

    p.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                   help=f"MNIST's directory (default {default_data_dir()}; ${DATA_ENV} overrides)")
    if not dataset:
        return
    p.add_argument("--dataset", type=Path, default=None, metavar="DIR",
                   help="another data set: DIR holds its four IDX files (raw or .gz; validation is the last "
                        "10,000 training images), or image folders DIR/train/CLASS/*.png and optionally "
                        "DIR/test/CLASS/ (prepared as predict prepares an image; seeded stratified split)")


def add_output_flags(p, network_file):
    """``--save FILE``, ``--run-dir DIR``, ``--no-save`` and ``--quiet``, which every training command
    takes."""
    from dlpy35.cli.config import command_name

    p.add_argument("--save", type=Path, default=None, metavar="FILE",
                   help=f"save the trained network ({Path(network_file).suffix[1:]}; dlpy35 evaluate, "
                        "predict and export read it)")
    p.add_argument("--run-dir", type=Path, default=None, metavar="DIR",
                   help=f"keep the run in DIR: args.json, epochs.csv (a sweep's columns) as training goes, "
                        f"{network_file} and curves.png at the end (default: without --save, a new "
                        f"runs/{command_name(p.prog)}-YYYYmmdd-HHMMSS; $DLPY35_RUNS instead of runs)")
    p.add_argument("--no-save", action="store_true",
                   help="keep nothing: no run directory (by default a run without --save or --run-dir is "
                        "kept in a new one)")
    add_quiet_flag(p)


def add_tensorboard_flag(p):
    """``--tensorboard DIR``: per-epoch scalars for TensorBoard (:mod:`dlpy35.storage.tensorboard`)."""
    p.add_argument("--tensorboard", type=Path, default=None, metavar="DIR",
                   help="write each network's per-epoch scalars (net0/minibatch_cost, "
                        "net0/evaluation_accuracy...) for `tensorboard --logdir DIR` (needs pip install "
                        "'dlpy35[tensorboard]')")


def tensorboard_callbacks(args):
    """``[TensorBoard]`` writing ``--tensorboard``'s scalars (checked by :func:`check_outputs`), or ``[]``."""
    if getattr(args, "tensorboard", None) is None:
        return []
    from dlpy35.storage.tensorboard import Scalars, TensorBoard

    return [TensorBoard(Scalars(args.tensorboard, replace=bool(getattr(args, "overwrite", False))))]


def add_overwrite_flag(p, what="a file or a run directory that an output path names"):
    """``--overwrite``: the output paths may replace what is there (:mod:`dlpy35.storage.outputs`)."""
    p.add_argument("--overwrite", action="store_true", help=f"replace {what} (refused otherwise)")


def data_inputs(args):
    """The files of the data directories `args` read (``--data-dir`` or its default, ``--dataset``), as
    :class:`dlpy35.storage.outputs.Outputs` takes its inputs: no output may replace one."""
    from dlpy35.data import default_data_dir
    from dlpy35.storage.outputs import directory_inputs

    inputs = directory_inputs("--data-dir", args.data_dir or default_data_dir())
    return inputs + (directory_inputs("--dataset", args.dataset) if getattr(args, "dataset", None) else [])


def check_outputs(args, network_file="", inputs=(), run_files=(), command=None):
    """``--save``, ``--plot``, ``--history``, ``--tensorboard`` and ``--run-dir`` checked before any work
    against the output policy (:class:`dlpy35.storage.outputs.Outputs`); ValueError in one line for the
    first refused (or when matplotlib is missing for ``--plot``, tensorboardX for ``--tensorboard``).

    `inputs` are what the command reads, besides :func:`data_inputs`; `run_files` are the files the run
    writes in ``--run-dir`` besides the run directory's own.  A training `command` (``train``) given
    neither ``--save``, ``--run-dir`` nor ``--no-save`` keeps its run in a new directory
    (:func:`dlpy35.storage.rundir.default_path`), made when training starts (:func:`make_run_dir`).
    ``--overwrite`` (or ``--resume``, which continues the run that wrote them) lets the paths replace
    what is there.  Sets ``args.run`` (a :class:`dlpy35.storage.rundir.RunDir` or None); returns the
    :class:`~dlpy35.storage.outputs.Outputs`.
    """
    from dlpy35.storage.outputs import Outputs
    from dlpy35.storage.rundir import RunDir

    if getattr(args, "no_save", False) and (args.save is not None or args.run_dir is not None):
        raise ValueError("--no-save keeps nothing, --save and --run-dir keep the network: give one of them")
    resume = getattr(args, "resume", None)
    if getattr(args, "checkpoint_dir", None) is not None:
        from dlpy35.storage.checkpoint import path_in
        from dlpy35.storage.outputs import given

        inputs = [*inputs, given("the checkpoint of --checkpoint-dir:", path_in(args.checkpoint_dir))]
    replace = bool(getattr(args, "overwrite", False) or resume)
    outputs = Outputs([*inputs, *data_inputs(args)], replace, resume=None if resume is None else "--resume")
    for flag in ("save", "plot", "history"):
        if getattr(args, flag, None) is not None:
            outputs.file(getattr(args, flag), f"--{flag}")
    if getattr(args, "tensorboard", None) is not None:
        from dlpy35.storage import tensorboard

        tensorboard.check(outputs, args.tensorboard)
    if getattr(args, "plot", None) is not None:
        try:
            import matplotlib  # noqa: F401 (only asked whether it is there)
        except ImportError:
            raise ValueError("--plot needs matplotlib: pip install 'dlpy35[plot]'") from None
    run_dir = getattr(args, "run_dir", None)  # evaluate has --plot but no run directory
    overwrite = bool(getattr(args, "overwrite", False))  # the run there goes when this one starts
    args.run = run_dir and RunDir(run_dir, network_file, "--run-dir", replacing=overwrite)
    if args.run:
        outputs.directory(run_dir, "--run-dir", [*args.run.names, *run_files])
    elif command and args.save is None and not args.no_save:
        from dlpy35.storage.rundir import default_path

        args.run = RunDir(default_path(command), network_file, fresh=True)
        # a directory of that name is no refusal: make() takes the next free name
        outputs.directory(args.run.path, "the run directory", [*args.run.names, *run_files], continues=True)
    return outputs


def make_run_dir(args):
    """Create the run directory kept by default (``args.run``, fresh: :func:`check_outputs`) and say where
    it is; OutputError in one line when it cannot be created.  Nothing for a ``--run-dir`` or none."""
    if args.run and args.run.fresh:
        print(f"run directory: {args.run.make()} (kept by default; --no-save keeps nothing)", flush=True)


def add_order_flag(p):
    """``--order own|shared``: a population's networks shuffle on their own, or follow the first one's."""
    p.add_argument("--order", choices=("own", "shared"), default="own",
                   help="own: each network shuffles with its own seed (it ends as it would alone: bit for "
                        "bit in float64 on Numba, up to rounding in float32); shared: "
                        "the networks of a population follow its first network's shuffles (about twice "
                        "as fast on a CPU: their first layers become one wide matmul)")


def add_quiet_flag(p):
    """``--quiet`` (old name ``--no-progress``): no progress bar."""
    p.add_argument("--quiet", "--no-progress", action="store_true", dest="quiet", help="no progress bar")


def network_sizes(given, data):
    """``--sizes`` for `data` (a :class:`dlpy35.data.Dataset`): the default [n_in, 30, n_classes], or
    `given` when its first and last sizes fit the data; ValueError otherwise."""
    if given is None:
        return [data.n_in, 30, data.n_classes]
    if given[0] != data.n_in or given[-1] != data.n_classes:
        fixed = " ".join(map(str, [data.n_in, *given[1:-1], data.n_classes]))
        raise ValueError(f"--sizes {' '.join(map(str, given))}: {data.name} has {data.n_in}-pixel images and "
                         f"{data.n_classes} classes; give --sizes {fixed}")
    return list(given)


def weight_init(args):
    """``--init``, or the book's choice for ``--cost``: N(0, 1) for the quadratic cost, else N(0, 1/n_in)."""
    return args.init or ("large" if args.cost == "quadratic" else "default")


#: The library's names of the settings a user gives as flags, and the flags that give them.
FLAGS = {"device": "--device", "mode": "--mode", "seeds": "--seeds", "etas": "--eta", "lmbdas": "--lmbda",
         "sizes_list": "--sizes", "ray_address": "--ray", "population_size": "--population-size",
         "resume": "--resume", "overwrite": "--overwrite", "data_dir": "--data-dir", "dataset": "--dataset"}
_KEYWORD = re.compile(r"(?<![\w./-])(" + "|".join(FLAGS) + r")=(\"[^\"]*\"|'[^']*'|[^\s,;:)]+)")
_PREFIX = re.compile(r"^(" + "|".join(FLAGS) + r"):")


def _flag(match) -> str:
    """A library's ``name=value`` as the flag that gives it: ``--name value``, or ``--name`` for True."""
    flag, value = FLAGS[match[1]], match[2].strip("\"'")
    return flag if value == "True" else f"{flag} {value}"


def in_flags(message) -> str:
    """A library's message in the command line's words.

    The library names a setting as its argument (``device="cuda"``, ``seeds: ...``,
    ``resume=True``); a user of a command gave it as a flag, and reads it so
    (``--device cuda``, ``--seeds: ...``, ``--resume``).  Only the settings of
    :data:`FLAGS` are translated: the others' names are the flags' already, or
    nobody's.
    """
    return _PREFIX.sub(lambda m: f"{FLAGS[m[1]]}:", _KEYWORD.sub(_flag, str(message)))


def interrupted_line(prog, what, checkpoint_dir) -> str:
    """The line that says Ctrl-C stopped `what` (``"interrupted after 3 epochs"``) and what the disk holds
    of it: only what is true."""
    from dlpy35.storage.checkpoint import completed_epochs

    epochs = None if checkpoint_dir is None else completed_epochs(checkpoint_dir)
    if checkpoint_dir is None:
        where = "no network saved (use --checkpoint-dir to keep progress)"
    elif epochs is None:
        where = f"no checkpoint was written in {checkpoint_dir}"
    else:
        where = (f"the checkpoint in {checkpoint_dir} holds {plural(epochs, 'completed epoch')}; run the "
                 "same command with --resume to continue")
    return f"{prog}: {what}; {where}"


def interrupted(prog, what, checkpoint_dir) -> int:
    """Print :func:`interrupted_line` on stderr; the exit status of Ctrl-C."""
    print(interrupted_line(prog, what, checkpoint_dir), file=sys.stderr)
    return INTERRUPTED


def fail(prog, problem) -> int:
    """Print ``prog: problem`` (in the command line's words, :func:`in_flags`) on stderr; return the
    user-error exit status."""
    print(f"{prog}: {in_flags(problem)}", file=sys.stderr)
    return USER_ERROR


def _one_line_warning(message, category, filename, lineno, line=None):
    return f"warning: {message}\n"


def exit_on_interrupt(prog):
    """From now on, Ctrl-C and SIGTERM exit 130 with one line at once (:mod:`dlpy35.cli.signals`).

    A script calls this before its heavy imports (PyTensor and JAX take seconds to
    import, and an interrupt inside them would print a traceback, crash, or be lost).
    """
    signals.take(prog)


def run(main, prog=None, argv=None) -> int:
    """``main(argv)``'s exit status, with Ctrl-C and SIGTERM at any moment 130 and one line.

    While `main` runs, the signals end the process at once (:mod:`dlpy35.cli.signals`;
    a command says with :func:`dlpy35.cli.signals.saying` what the disk holds); a
    KeyboardInterrupt that `main` raises itself is reported as one before training.
    Warnings print as one line each instead of Python's two-line source excerpt, and JAX's
    compiles are kept for the next run (:func:`dlpy35.storage.caches.keep_jax_compiles`).
    """
    prog = prog or Path(sys.argv[0]).name
    warnings.formatwarning = _one_line_warning
    caches.keep_jax_compiles()
    try:
        with signals.installed(prog):
            return main(argv)
    except BrokenPipeError:  # `dlpy35 evaluate MODEL | head -1`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 1
    except OSError as exc:  # what no check could foresee: a disk filling up while training
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{prog}: {where}{exc.strerror or exc}; what was written before is kept", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(signals.nothing_saved(prog), file=sys.stderr)
        return INTERRUPTED

"""Draw one of the book's chapter-3 figures: train as the book's script did, write a PNG and its numbers.

NAME is one of (``--list`` says the same):

  overfitting     [784, 30, 10], cross-entropy, N(0, 1) weights, eta 0.5, lmbda 0, the first
                  1,000 training images, 400 epochs: the training cost and the test accuracy
                  per epoch (the book's fig/overfitting.py)
  regularization  the same with lmbda 0.1
  learning-rates  [784, 30, 10], cross-entropy, lmbda 5.0, the 50,000 training images, 30
                  epochs: the training cost per epoch for eta 0.025, 0.25 and 2.5, trained
                  together as one population (the book's fig/multiple_eta.py)

Mini-batches of 10 throughout; seed 0 unless --seed.  The PNG goes to -o (default
NAME.png, learning_rates.png for learning-rates) and the numbers behind it to the
same name with .csv: epoch, then one column per curve.  --quick trains each figure
for 20 epochs (learning-rates on the first 2,000 images) to try it in seconds.

Examples::

    dlpy35 figure overfitting -o data/figures/overfitting.png
    dlpy35 figure regularization -o data/figures/regularization.png
    dlpy35 figure learning-rates -o data/figures/learning_rates.png
    dlpy35 figure learning-rates --quick -o /tmp/etas.png
    dlpy35 figure --list
"""

from __future__ import annotations

from pathlib import Path

from dlpy35.cli import signals
from dlpy35.cli.common import (
    INTERRUPTED,
    add_data_flags,
    add_device_flags,
    add_overwrite_flag,
    add_quiet_flag,
    data_inputs,
    fail,
    natural_int,
)
from dlpy35.text import plural


def configure(p):
    from dlpy35.studies.figures import FIGURES

    p.add_argument("name", nargs="?", choices=list(FIGURES), metavar="NAME",
                   help=f"the figure: {', '.join(FIGURES)}")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="FILE.png",
                   help="the PNG to write (default NAME.png); the CSV of its numbers goes beside it")
    p.add_argument("--quick", action="store_true",
                   help="a shortened run (20 epochs; learning-rates on 2,000 images): smoke tests and CI")
    p.add_argument("--seed", type=natural_int, default=0, help="seeds the initial weights and the shuffles")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    add_overwrite_flag(p, "the PNG and the CSV beside it, when they are there")
    add_device_flags(p)
    add_data_flags(p, dataset=False)
    add_quiet_flag(p)


def listing() -> str:
    """One line per figure: its name, what it shows, the book's run in epochs and images."""
    from dlpy35.studies.figures import FIGURES

    width = max(map(len, FIGURES))
    lines = []
    for f in FIGURES.values():
        epochs, n = f.settings()
        lines.append(f"{f.name:<{width}}  {f.summary} ({plural(epochs, 'epoch')}, "
                     f"{'all' if n is None else f'{n:,}'} training images)")
    return "\n".join(lines)


def check(p, args):
    """The figure's name and both output paths checked before any data loads, together (neither is written
    if one is refused): ``(png, csv)``, or exit 2."""
    from dlpy35.storage.outputs import Outputs
    from dlpy35.studies.figures import FIGURES, csv_path, default_output

    if args.name is None:
        p.error(f"give a figure: {', '.join(FIGURES)} (or --list)")
    png = args.output or default_output(args.name)
    if png.suffix.lower() != ".png":
        p.error(f"-o {png}: the figure is a PNG; give a name ending in .png")
    try:
        outputs = Outputs(data_inputs(args), replace=args.overwrite)
        outputs.file(png, "-o")
        outputs.file(csv_path(png), "-o (the CSV beside it)")
        import matplotlib  # noqa: F401 (only asked whether it is there)
    except ValueError as exc:
        p.error(str(exc))
    except ImportError:
        p.error("figures need matplotlib: pip install 'dlpy35[plot]'")
    return png, csv_path(png)


def execute(p, args) -> int:
    if args.list:
        print(listing())
        return 0
    png, csv = check(p, args)
    import sys

    from dlpy35.cli.progress import EpochBar
    from dlpy35.data import DataError, load_data
    from dlpy35.engine.device import DeviceError, resolve
    from dlpy35.engine.population import PopulationError
    from dlpy35.engine.trainer import TrainingDiverged
    from dlpy35.studies import figures

    prog = p.prog
    try:
        device = resolve(args.device, args.mode)  # a wrong --device or --mode, before the data loads
        data = load_data(args.data_dir)
    except (DataError, DeviceError, ValueError) as exc:
        return fail(prog, exc)
    fig = figures.get(args.name)
    epochs, n_train = fig.settings(args.quick)
    print(f"{prog} {fig.name}: {plural(epochs, 'epoch')} on "
          f"{'all' if n_train is None else f'{n_train:,}'} training images"
          f"{' (--quick)' if args.quick else ''}, seed {args.seed}; {device.describe()}", flush=True)
    bar = EpochBar(args.quiet)

    def log(line):
        bar.close()
        print(line, flush=True)

    stopped = f"{prog}: interrupted; no figure was written"
    try:
        with signals.saying(lambda: stopped):
            result = figures.compute(fig.name, data, quick=args.quick, seed=args.seed, device=args.device,
                                     mode=args.mode, progress=bar, log=log)
    except (DataError, DeviceError, PopulationError, TrainingDiverged, ValueError) as exc:
        bar.close()
        return fail(prog, exc)
    except KeyboardInterrupt:
        bar.close()
        print(stopped, file=sys.stderr)
        return INTERRUPTED
    bar.close()
    with signals.saying(lambda: signals.while_writing(prog)):
        figures.draw(result, png)
        figures.write_numbers(result, csv)
    print(figures.describe(result))
    print(f"wrote {png} and {csv}")
    return 0

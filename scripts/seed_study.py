#!/usr/bin/env python3
"""The seed study: one network, 32 initial weights and shuffles, trained as one population.

The book's ``[784, 100, 10]`` network, quadratic cost, N(0, 1) weights, eta 3.0,
30 epochs, mini-batch 10, seeds 0-31 (the settings of ``--help``'s defaults),
trained together and evaluated on the test data every epoch.  Writes into
``--out``: the sweep's ``epochs.csv``, ``summary.csv`` and ``sweep.png``, every
network's final weights (``weights.npz``), and ``units.txt``: for each network,
how often each output unit gives the answer on the test data -- which is what the
stuck runs have in common.

Every figure is the population's: network k is seed k trained in this
population.  Trained alone, seed k ends there bit for bit only in float64 on
Numba; in float32 the population's batched kernels round differently from one
network's, and a chaotic run (eta 3.0, quadratic cost) amplifies that, so seed
k alone can end elsewhere (:mod:`dlpy35.engine.population` gives a measured spread).
The study shows the spread over seeds, not what each seed gives alone.

    python scripts/seed_study.py --out runs/seed-study
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from dlpy35.cli.common import exit_on_interrupt  # noqa: E402

exit_on_interrupt(Path(__file__).name)  # before the heavy imports

from dlpy35.cli.common import (  # noqa: E402
    ArgumentParser,
    add_order_flag,
    add_overwrite_flag,
    add_training_flags,
    data_inputs,
    finite_float,
    run,
)
from dlpy35.cli.sweep import settings_of  # noqa: E402
from dlpy35.data import load_mnist  # noqa: E402
from dlpy35.storage.atomic import atomic_write  # noqa: E402
from dlpy35.storage.outputs import Outputs  # noqa: E402
from dlpy35.studies import sweep  # noqa: E402
from dlpy35.studies.plots import plot_sweep  # noqa: E402
from dlpy35.text import plural  # noqa: E402

PROG = Path(__file__).name
#: What the study writes in --out.
PLOT, WEIGHTS, UNITS = "sweep.png", "weights.npz", "units.txt"
OUT_FILES = ("epochs.csv", "summary.csv", PLOT, WEIGHTS, UNITS)


def unit_report(net, seed, outputs, labels):
    """One line: the network's accuracy and the share of test images each output unit answers."""
    answers = np.argmax(outputs, axis=1)
    share = np.bincount(answers, minlength=outputs.shape[1]) / len(answers)
    dead = [u for u in range(outputs.shape[1]) if share[u] == 0]
    return (f"net {net:>2} seed {seed:>2}: {np.mean(answers == labels):7.2%}  answers per unit "
            f"{' '.join(f'{100 * s:4.1f}' for s in share)}  max activation per unit "
            f"{' '.join(f'{a:.2f}' for a in outputs.max(axis=0))}"
            f"{'  never answers: ' + ' '.join(map(str, dead)) if dead else ''}")


def main(argv=None):
    p = ArgumentParser(__doc__, prog=PROG)
    p.add_argument("--seeds", nargs="+", default=["0-31"])
    p.add_argument("--eta", type=finite_float, default=3.0)
    p.add_argument("--sizes", type=int, nargs="+", default=[784, 100, 10])
    add_training_flags(p)
    add_order_flag(p)
    p.add_argument("--out", type=Path, default=Path("runs/seed-study"))
    add_overwrite_flag(p, "what --out holds")
    args = p.parse_args(argv)
    try:
        seeds = sweep.parse_seeds(args.seeds)
        Outputs(data_inputs(args), replace=args.overwrite).directory(args.out, "--out", OUT_FILES)
    except ValueError as exc:
        p.error(str(exc))
    (chunk,) = sweep.plan([args.sizes], seeds, [args.eta], [0.0], settings_of(args))
    (tx, ty), _, (ex, ey) = load_mnist(args.data_dir)
    pop = sweep.population(chunk)
    print(f"{plural(pop.k, 'network')} {args.sizes}, {pop.device.describe()}", flush=True)
    pop.SGD((tx[: args.n_train], ty[: args.n_train]), args.epochs, args.mini_batch_size, (ex, ey),
            on_epoch=lambda r: print(f"epoch {r.epoch}: {r.seconds:.1f} s", flush=True))
    rows, summary = sweep.chunk_rows(chunk, pop.records, pop.diverged)
    sweep.write(args.out, rows, summary)
    plot_sweep(rows, summary, args.out / PLOT,
               f"{pop.k} seeds of {args.sizes} in one population, {args.cost} cost, eta {args.eta}, "
               f"{plural(args.epochs, 'epoch')}")
    values = pop.trainer.values()
    with atomic_write(args.out / WEIGHTS) as f:
        np.savez(f, **{name: v for name, v in zip(pop.model.param_names, values)}, seeds=np.array(seeds))
    outputs = pop.trainer.forward(ex)  # (K, n, 10)
    lines = [unit_report(n.net, n.seed, out, ey) for n, out in zip(chunk.nets, outputs)]
    with atomic_write(args.out / UNITS, "w") as f:
        f.write("\n".join(lines) + "\n")
    # The figures are network k's in this population, not seed k's alone (see the docstring).
    print(f"The {pop.k} networks of one {pop.dtype} population (a seed's figures are its network's here):")
    print(sweep.report(summary))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, PROG))

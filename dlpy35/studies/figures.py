"""The book's chapter-3 figures, reproduced: overfitting, regularization, and three learning rates.

Each figure is trained as the book's script trained it, with a fixed seed, and
drawn with matplotlib (``pip install 'dlpy35[plot]'``):

``overfitting`` (the book's ``fig/overfitting.py``)
    ``[784, 30, 10]``, cross-entropy, N(0, 1) weights (the script's
    ``large_weight_initializer``), eta 0.5, mini-batch 10, lmbda 0, the first
    1,000 training images, 400 epochs; the cost on the training data and the
    accuracy on the 10,000 test images after every epoch.
``regularization``
    The same with lmbda 0.1 (the book's regularised run of ``overfitting.py``).
``learning-rates`` (the book's ``fig/multiple_eta.py``)
    ``[784, 30, 10]``, cross-entropy, N(0, 1/n_in) weights, lmbda 5.0,
    mini-batch 10, the 50,000 training images, 30 epochs; the cost on the
    training data for eta 0.025, 0.25 and 2.5.  The three networks (the same
    seed, so the same initial weights and shuffles) train together as one
    :class:`dlpy35.engine.population.Population`.

The training cost is the book's ``total_cost``: the mean cross-entropy over the
training images after the epoch plus ``lmbda / n`` times ``sum w^2 / 2``.
:func:`compute` trains a figure and returns its numbers (a :class:`Result`),
:func:`draw` its matplotlib Figure (written as a PNG when given a path) and
:func:`write_numbers` its CSV (``epoch``, then one column per curve).  The quick settings
(:attr:`Figure.quick_epochs`, :attr:`Figure.quick_n_train`) shorten each run for smoke tests.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dlpy35.text import plural

BLUE = "#2A6EA6"  # the book's curve colour
BOOK_COLORS = (BLUE, "#FFCD33", "#FF7033")  # multiple_eta.py's three learning rates
QUICK_EPOCHS = 20
PLATEAU_TOLERANCE = 0.5  # percentage points: the accuracy has stalled once it is this close to its best


@dataclass(frozen=True)
class Figure:
    """One of the book's figures: what it trains and how.

    Attributes
    ----------
    name : str
        The command's NAME.
    summary : str
        One line for the list of the figures.
    book : str
        What the book's figure shows, for the plot's title and the listing.
    epochs, n_train : int, int or None
        The book's run: epochs, and the first `n_train` training images (None: all 50,000).
    etas : tuple of float
        One curve per eta when there are several.
    lmbda : float
    weight_init : {"large", "default"}
        N(0, 1) weights, or N(0, 1/n_in).
    quick_epochs, quick_n_train
        The quick run: a smoke test.
    """

    name: str
    summary: str
    book: str
    epochs: int
    n_train: int | None
    etas: tuple
    lmbda: float
    weight_init: str
    quick_epochs: int = QUICK_EPOCHS
    quick_n_train: int | None = None
    sizes: tuple = (784, 30, 10)
    mini_batch_size: int = 10

    def settings(self, quick=False):
        """``(epochs, n_train)`` of the full run, or of the quick one."""
        if quick:
            return self.quick_epochs, self.quick_n_train or self.n_train
        return self.epochs, self.n_train

    @property
    def file_stem(self):
        """``learning_rates`` for ``learning-rates``: the default output's name."""
        return self.name.replace("-", "_")


FIGURES = {f.name: f for f in (
    Figure("overfitting",
           "no regularisation on 1,000 images: the training cost keeps falling, the test accuracy stalls",
           "the book: the test accuracy stops improving around epoch 280, at 82-83%",
           epochs=400, n_train=1000, etas=(0.5,), lmbda=0.0, weight_init="large"),
    Figure("regularization",
           "the same with L2 regularisation, lmbda 0.1: the test accuracy keeps rising",
           "the book: the test accuracy keeps rising for all 400 epochs, to about 87%",
           epochs=400, n_train=1000, etas=(0.5,), lmbda=0.1, weight_init="large"),
    Figure("learning-rates",
           "the training cost for eta 0.025, 0.25 and 2.5 (lmbda 5.0): 2.5 oscillates, 0.25 is best",
           "the book: 0.025 falls slowly, 0.25 best, 2.5 oscillates from the start",
           epochs=30, n_train=None, etas=(0.025, 0.25, 2.5), lmbda=5.0, weight_init="default",
           quick_n_train=2000),
)}


def get(name):
    """The :class:`Figure` called `name`; ValueError (one line, listing them) for another name."""
    try:
        return FIGURES[name]
    except KeyError:
        raise ValueError(f"no figure {name!r}; choose one of {', '.join(FIGURES)}") from None


def default_output(name) -> Path:
    """Where a figure goes without ``-o``: ``overfitting.png``, ``learning_rates.png``..."""
    return Path(f"{get(name).file_stem}.png")


def csv_path(png) -> Path:
    """The CSV beside the PNG: ``figure.png`` -> ``figure.csv``."""
    return Path(png).with_suffix(".csv")


def eta_column(eta):
    """The CSV column of one learning rate's training cost: ``training_cost_eta_0.25``."""
    return f"training_cost_eta_{eta:g}"


@dataclass
class Result:
    """A trained figure's numbers.

    Attributes
    ----------
    figure : Figure
    epochs, n_train, seed : int
        As trained (``n_train`` counts the images actually used).
    columns : dict of str to list
        ``epoch`` first, then one list per curve: ``training_cost`` and
        ``test_accuracy`` (in %) for the overfitting figures, ``training_cost_eta_*``
        (:func:`eta_column`) for the learning rates.  NaN after a network diverged.
    seconds : float
        Wall time of the training and the monitoring (compilation included).
    device : str
        Where it trained (:meth:`dlpy35.engine.device.Device.describe`).
    diverged : dict
        eta -> the epoch its network diverged in, for those that did.
    """

    figure: Figure
    epochs: int
    n_train: int
    seed: int
    columns: dict
    seconds: float
    device: str
    diverged: dict = field(default_factory=dict)

    def rows(self):
        """The columns as CSV rows (dicts)."""
        names = list(self.columns)
        return [dict(zip(names, values)) for values in zip(*self.columns.values())]


# -- training ------------------------------------------------------------------------------------------------

def compute(name, data, quick=False, seed=0, device="auto", mode=None, progress=None, log=None):
    """Train the figure `name` on `data` (a :class:`dlpy35.data.Dataset` or the book's three pairs).

    Parameters
    ----------
    name : str
        A key of :data:`FIGURES`.
    data : dlpy35.data.Dataset or tuple
        MNIST: ``.training`` and ``.test`` (or ``(training, validation, test)``), each ``(X, labels)``.
    quick : bool
        The shortened run (:meth:`Figure.settings`).
    seed : int
        Seeds the initial weights and the shuffles (every network of the learning-rate figure).
    device, mode
        As for :class:`dlpy35.network2.Network`.
    progress : callable, optional
        ``progress(epoch, batches_done, n_batches)`` during each epoch.
    log : callable, optional
        ``log(line)`` after some epochs (about twenty lines per run, and the last epoch).

    Returns
    -------
    Result
    """
    fig = get(name)
    epochs, n_train = fig.settings(quick)
    training, test = _split(data)
    x, y = training
    if n_train is not None:
        if n_train > len(x):
            raise ValueError(f"{name}: needs {plural(n_train, 'training image')}, the data has {len(x):,}")
        x, y = x[:n_train], y[:n_train]
    run = _learning_rates if len(fig.etas) > 1 else _monitored
    start = time.perf_counter()
    columns, described, diverged = run(fig, (x, y), test, epochs, seed, device, mode, progress,
                                       _every(epochs, log))
    return Result(fig, epochs, len(x), seed, columns, time.perf_counter() - start, described, diverged)


def _split(data):
    if hasattr(data, "training"):
        return data.training, data.test
    training, _, test = data
    return training, test


def _every(epochs, log, lines=20):
    """``log`` for epochs 0, every ``epochs / lines``-th and the last; a no-op without `log`."""
    step = max(1, epochs // lines)

    def maybe(epoch, line):
        if log and (epoch % step == 0 or epoch == epochs - 1):
            log(line)
    return maybe


def _monitored(fig, training, test, epochs, seed, device, mode, progress, log):
    """The overfitting figures: one ``network2`` network, its training cost and test accuracy."""
    from dlpy35.engine.costs import CrossEntropyCost
    from dlpy35.network2 import Network

    net = Network(list(fig.sizes), cost=CrossEntropyCost, seed=seed, mode=mode, device=device,
                  weight_init=fig.weight_init)
    n_test = len(test[0])

    def on_epoch(f):
        log(f["epoch"], f"epoch {f['epoch']}: training cost {f['training_cost']:.4f}, test accuracy "
                        f"{f['evaluation_accuracy']} / {n_test}")

    _, accuracy, cost, _ = net.SGD(training, epochs, fig.mini_batch_size, fig.etas[0], lmbda=fig.lmbda,
                                   evaluation_data=test, monitor_evaluation_accuracy=True,
                                   monitor_training_cost=True, progress=progress, on_epoch=on_epoch,
                                   verbose=False)
    columns = {"epoch": list(range(len(cost))), "training_cost": [float(c) for c in cost],
               "test_accuracy": [100.0 * a / n_test for a in accuracy]}
    return columns, net.device.describe(), {}


def _learning_rates(fig, training, test, epochs, seed, device, mode, progress, log):
    """The learning-rate figure: one population of ``len(fig.etas)`` networks, the same seed each.

    The population evaluates the training data itself after every epoch (its
    ``evaluation_data``); the regularisation term is added here from each
    network's weights, as ``network2``'s ``total_cost`` adds it.
    """
    from dlpy35.engine.costs import CrossEntropyCost
    from dlpy35.engine.population import Population

    k = len(fig.etas)
    pop = Population(list(fig.sizes), [seed] * k, list(fig.etas), fig.lmbda, cost=CrossEntropyCost,
                     weight_init=fig.weight_init, mode=mode, device=device)
    costs = [[] for _ in range(k)]

    def on_epoch(record):
        weights = pop.model.split(pop.trainer.values())[0]
        for i, r in enumerate(record.records):
            if r is None:  # diverged: its weights were put back and froze; the book's curve ends there
                costs[i].append(float("nan"))
                continue
            ev = r.evaluations["evaluation"]
            penalty = 0.5 * sum(float(np.sum(np.square(w[i], dtype=np.float64))) for w in weights)
            costs[i].append(ev.cost / ev.total + fig.lmbda / ev.total * penalty)
        log(record.epoch, f"epoch {record.epoch}: training cost "
                          + ", ".join(f"{c[-1]:.4f} (eta {e:g})" for e, c in zip(fig.etas, costs)))

    pop.SGD(training, epochs, fig.mini_batch_size, evaluation_data=training, progress=progress,
            on_epoch=on_epoch)
    columns = {"epoch": list(range(len(costs[0])))}
    columns.update({eta_column(eta): c for eta, c in zip(fig.etas, costs)})
    diverged = {eta: d for eta, d in zip(fig.etas, pop.diverged) if d is not None}
    return columns, pop.device.describe(), diverged


# -- numbers -------------------------------------------------------------------------------------------------

def plateau(accuracy, tolerance=PLATEAU_TOLERANCE):
    """The first epoch whose accuracy is within `tolerance` points of the run's best: where it stalls."""
    accuracy = np.asarray(accuracy, float)
    return int(np.argmax(accuracy >= np.nanmax(accuracy) - tolerance))


def describe(result) -> str:
    """A few lines of the figure's numbers, for the terminal.

    The best test accuracy is reported at the first epoch that reaches it (of equal
    accuracies the earliest, as :func:`draw_overfitting` marks it), the plateau at
    :func:`plateau`'s first epoch within :data:`PLATEAU_TOLERANCE` points of it.
    """
    c, last = result.columns, result.epochs - 1
    if "test_accuracy" in c:
        acc = c["test_accuracy"]
        best = int(np.argmax(acc))
        lines = [f"test accuracy: {acc[-1]:.2f}% after epoch {last}; best {acc[best]:.2f}% at epoch {best}; "
                 f"within {PLATEAU_TOLERANCE:g} points of the best from epoch {plateau(acc)}",
                 f"training cost: {c['training_cost'][0]:.4f} after epoch 0, {c['training_cost'][-1]:.4f} "
                 f"after epoch {last}"]
    else:
        lines = []
        for eta in result.figure.etas:
            cost = c[eta_column(eta)]
            lines.append(f"eta {eta:g}: training cost {cost[0]:.4f} after epoch 0, {cost[-1]:.4f} after "
                         f"epoch {last}, lowest {np.nanmin(cost):.4f}"
                         + (f"; diverged in epoch {result.diverged[eta]}" if eta in result.diverged else ""))
    return "\n".join([*lines, f"{result.seconds:.1f} s on {result.device}"])


def write_numbers(result, path):
    """The numbers behind the figure as CSV: ``epoch``, then one column per curve (atomically)."""
    from dlpy35.storage.tables import write_csv

    write_csv(path, list(result.columns), result.rows())
    return Path(path)


# -- drawing -------------------------------------------------------------------------------------------------

def _title(result):
    f = result.figure
    init = "N(0, 1)" if f.weight_init == "large" else "N(0, 1/n_in)"
    etas = ", ".join(f"{e:g}" for e in f.etas)
    return (f"{f.name}: {list(f.sizes)}, cross-entropy, {init} weights, eta {etas}, lmbda {f.lmbda:g}\n"
            f"mini-batch {f.mini_batch_size}, {result.n_train:,} training images, "
            f"{plural(result.epochs, 'epoch')}, seed {result.seed}\n({f.book})")


def draw(result, path=None):
    """The figure, a matplotlib Figure, written to `path` as a PNG (atomically) when a path is given:
    :func:`draw_overfitting` or :func:`draw_learning_rates`."""
    if len(result.figure.etas) > 1:
        return draw_learning_rates(result, path)
    return draw_overfitting(result, path)


def draw_overfitting(result, path=None):
    """Four panels, 1200x800 pixels: the training cost and the test accuracy over all epochs (top; the
    cost on a log scale), and over the second half of the epochs, linear (bottom), as the book draws
    them (epochs 200-399 of 400).  The note names the best accuracy's first epoch (the earliest of equal
    ones)."""
    from dlpy35.studies.plots import finish, new_figure

    fig = new_figure(figsize=(12, 8))
    from matplotlib.ticker import MaxNLocator

    c = result.columns
    epochs = np.asarray(c["epoch"])
    half = result.epochs // 2
    axes = fig.subplots(2, 2)
    acc = np.asarray(c["test_accuracy"])
    best, stall = int(np.argmax(acc)), plateau(acc)
    for row, start in enumerate((0, half)):
        shown = epochs >= start
        cost_ax, acc_ax = axes[row]
        cost_ax.plot(epochs[shown], np.asarray(c["training_cost"])[shown], color=BLUE)
        acc_ax.plot(epochs[shown], acc[shown], color=BLUE)
        span = "all epochs" if start == 0 else f"epochs {start}-{result.epochs - 1}"
        cost_ax.set_title(f"Cost on the training data ({span}{', log scale' if start == 0 else ''})")
        acc_ax.set_title(f"Accuracy (%) on the test data ({span})")
        if start == 0:
            cost_ax.set_yscale("log")
        for ax in (cost_ax, acc_ax):
            ax.set_xlim(start, max(result.epochs - 1, start + 1))
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("Epoch")
            ax.grid(True, alpha=0.4)
        acc_ax.axhline(acc[best], color="grey", lw=0.8, ls="--")
        if stall >= start:
            acc_ax.axvline(stall, color="grey", lw=0.8, ls=":")
    note = (f"best {acc[best]:.2f}% (epoch {best}), last {acc[-1]:.2f}%;\n"
            f"within {PLATEAU_TOLERANCE:g} points of the best from epoch {stall} (dotted)")
    axes[0][1].text(0.98, 0.04, note, transform=axes[0][1].transAxes, ha="right", va="bottom", fontsize=9,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    fig.suptitle(_title(result), fontsize=10)
    return finish(fig, path)


def draw_learning_rates(result, path=None):
    """One panel, 800x500 pixels: the training cost per epoch for each eta, in the book's colours."""
    from dlpy35.studies.plots import finish, new_figure

    fig = new_figure(figsize=(8, 5))
    from matplotlib.ticker import MaxNLocator

    c = result.columns
    ax = fig.subplots()
    for eta, color in zip(result.figure.etas, BOOK_COLORS):
        label = f"$\\eta$ = {eta:g}" + (f" (diverged in epoch {result.diverged[eta]})"
                                        if eta in result.diverged else "")
        ax.plot(c["epoch"], c[eta_column(eta)], "o-", ms=4, color=color, label=label)
    ax.set_xlim(0, result.epochs)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Cost")
    ax.set_title("Cost on the training data")
    ax.grid(True, alpha=0.4)
    ax.legend(loc="upper right")
    fig.suptitle(_title(result), fontsize=9)
    return finish(fig, path)

"""Figures: a training run's accuracy and cost per epoch (chapter 3's), the speed of learning of each hidden
layer per epoch (chapter 5's), a sweep's spread, a confusion matrix.

Needs matplotlib (``pip install 'dlpy35[plot]'``).  The PNG is written atomically.
"""

from __future__ import annotations

import numpy as np

from dlpy35.storage.atomic import atomic_write


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'dlpy35[plot]'") from None
    return plt


def _save(fig, path, title=None):
    """Write `fig` to `path` as a PNG, atomically, under the overall `title` if one is given; close it;
    the path."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    fig.clf()
    _pyplot().close(fig)
    return path


def plot_history(history, path, title=None, n_train=None, n_eval=None):
    """Write a PNG with the monitored curves of a :class:`dlpy35.network2.Network` run.

    Parameters
    ----------
    history : dict
        ``net.history`` (or any dict with the lists ``training_cost``,
        ``evaluation_cost``, ``training_accuracy``, ``evaluation_accuracy``;
        empty lists are left out).
    path : path
        Where to write the PNG.
    n_train, n_eval : int, optional
        Sizes of the data sets, to plot accuracies in percent.

    Returns
    -------
    pathlib.Path or None
        `path`, or None when nothing was monitored.
    """
    plt = _pyplot()
    panels = [(key, label) for key, label in (("accuracy", "Accuracy"), ("cost", "Cost"))
              if history.get(f"training_{key}") or history.get(f"evaluation_{key}")]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.2), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        for which, n, style in (("training", n_train, "-o"), ("evaluation", n_eval, "-s")):
            values = history.get(f"{which}_{key}") or []
            if not values:
                continue
            if key == "accuracy" and n:
                values = [100.0 * v / n for v in values]
            ax.plot(range(len(values)), values, style, markersize=3, label=f"{which} data")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(f"{label} (%)" if key == "accuracy" and (n_train or n_eval) else label)
        ax.set_title(f"{label} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path, title)


def plot_learning_speed(speeds, path, title=None):
    """Write a PNG of the speed of learning per epoch, one line per hidden layer: the book's chapter-5 figure.

    Parameters
    ----------
    speeds : list of lists of float
        ``net.history["learning_speed"]``: entry k holds ``||delta^l|| = ||dC/db^l||``
        for each hidden layer l after k epochs of training (entry 0 before training).
    path : path
        Where to write the PNG.
    title : str, optional
        A line under the book's title (the run's settings, for instance).

    Returns
    -------
    pathlib.Path or None
        `path`, or None when there is nothing to plot (no hidden layer, no entry).
    """
    plt = _pyplot()
    n_hidden = len(speeds[0]) if speeds else 0
    if not n_hidden:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for layer in range(n_hidden):
        ax.plot(range(len(speeds)), [s[layer] for s in speeds], label=f"Hidden layer {layer + 1}")
    ax.set_yscale("log")
    ax.set_xlim(0, max(len(speeds) - 1, 1))
    ax.set_xlabel("Number of epochs of training")
    ax.set_ylabel("||dC/db|| of the layer")
    ax.set_title(f"Speed of learning: {n_hidden} hidden layer{'s' if n_hidden > 1 else ''}"
                 + (f"\n{title}" if title else ""), fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_sweep(rows, summary, path, title=None):
    """Write a PNG of a sweep: every network's evaluation accuracy per epoch, coloured by configuration,
    and the distribution of best accuracy per configuration (sizes, eta, lambda).

    `rows` and `summary` are the ``epochs.csv`` and ``summary.csv`` rows (:mod:`dlpy35.storage.tables`).
    """
    plt = _pyplot()

    def config(r):
        return f"{r['sizes']} eta {float(r['eta']):g} lmbda {float(r['lmbda']):g}"

    configs = sorted({config(r) for r in summary})
    colours = {c: plt.get_cmap("tab10")(i % 10) for i, c in enumerate(configs)}
    fig, (curves, spread) = plt.subplots(1, 2, figsize=(13, 4.8))
    by_net = {}
    for r in rows:
        by_net.setdefault(int(r["net"]), []).append(r)
    for net_rows in by_net.values():
        acc = [100.0 * int(r["evaluation_correct"]) / int(r["evaluation_total"]) for r in net_rows]
        curves.plot([int(r["epoch"]) for r in net_rows], acc, color=colours[config(net_rows[0])], alpha=0.6,
                    lw=1)
    curves.set(xlabel="Epoch", ylabel="Evaluation accuracy (%)", title="Every network, per epoch")
    curves.grid(alpha=0.3)
    best = {c: [100.0 * int(r["best_correct"]) / int(r["evaluation_total"]) for r in summary
                if config(r) == c and r["best_correct"] not in ("", None)] for c in configs}
    spread.boxplot([best[c] or [float("nan")] for c in configs], orientation="horizontal", showfliers=False)
    for i, c in enumerate(configs, start=1):
        spread.plot(best[c], [i + 0.12 * ((j % 5) - 2) / 2 for j in range(len(best[c]))], "o", ms=4,
                    color=colours[c], alpha=0.7)
    spread.set_yticks(range(1, len(configs) + 1), [f"{c} (n={len(best[c])})" for c in configs], fontsize=8)
    spread.set(xlabel="Best evaluation accuracy (%)", title="Best accuracy per configuration")
    spread.grid(alpha=0.3)
    return _save(fig, path, title)


def plot_confusion(matrix, path, title=None):
    """Write a PNG of a confusion matrix (rows: the true class, columns: the answer), counts in the cells."""
    plt = _pyplot()
    n = len(matrix)
    fig, ax = plt.subplots(figsize=(1.5 + 0.55 * n, 1.2 + 0.5 * n))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 3 else "black")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
    return _save(fig, path)

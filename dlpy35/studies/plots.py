"""Figures: a training run's accuracy and cost per epoch (chapter 3's), the speed of learning of each hidden
layer per epoch (chapter 5's), a sweep's spread, a confusion matrix.

Each function returns a matplotlib Figure, which a notebook shows as it shows any value (the Figure
has a ``_repr_png_``), and writes it as a PNG, atomically, when it is given a path.  The figures are
made without ``pyplot`` and without choosing a backend: drawing one leaves a notebook's or a
program's matplotlib settings as they were.

Needs matplotlib (``pip install 'dlpy35[plot]'``).
"""

from __future__ import annotations

import functools
import io

import numpy as np

from dlpy35.storage.atomic import atomic_write

DPI = 100  # the saved PNG's pixels per inch: a figure of 6 x 4.2 inches is 600 x 420 pixels


def new_figure(**kwargs):
    """A Figure (``matplotlib.figure.Figure`` keyword arguments) with no pyplot behind it.

    Raises
    ------
    ImportError
        matplotlib is not installed; the message says how to install it.
    """
    try:
        import matplotlib  # noqa: F401 (first: its submodules, once imported, would be found without it)
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'dlpy35[plot]'") from None
    return _shown_figure(Figure)(**{"layout": "tight", **kwargs})


@functools.cache
def _shown_figure(figure_class):
    """`figure_class` with a ``_repr_png_``, so that a notebook shows it though no pyplot backend knows it."""

    class Plot(figure_class):
        """A matplotlib Figure that IPython and Jupyter display as a PNG."""

        def _repr_png_(self):
            return png_bytes(self)

    Plot.__module__ = __name__
    return Plot


def png_bytes(fig) -> bytes:
    """`fig` as PNG bytes, as :func:`finish` writes it to a file."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def finish(fig, path=None, title=None):
    """`fig` under the overall `title` if one is given, written to `path` as a PNG (atomically) when a path
    is given; `fig`."""
    if title:
        fig.suptitle(title)
    if path is not None:
        with atomic_write(path) as f:
            f.write(png_bytes(fig))
    return fig


def plot_history(history, path=None, title=None, n_train=None, n_eval=None):
    """The monitored curves of a :class:`dlpy35.network2.Network` run, side by side: accuracy, cost.

    Parameters
    ----------
    history : dict
        ``net.history`` (or any dict with the lists ``training_cost``,
        ``evaluation_cost``, ``training_accuracy``, ``evaluation_accuracy``;
        empty lists are left out).
    path : path-like, optional
        Where to write the PNG, if anywhere.
    title : str, optional
        Above the panels.
    n_train, n_eval : int, optional
        Sizes of the data sets, to plot accuracies in percent.

    Returns
    -------
    matplotlib.figure.Figure or None
        The figure, or None when nothing was monitored (and nothing is written).
    """
    panels = [(key, label) for key, label in (("accuracy", "Accuracy"), ("cost", "Cost"))
              if history.get(f"training_{key}") or history.get(f"evaluation_{key}")]
    if not panels:
        return None
    fig = new_figure(figsize=(6 * len(panels), 4.2))
    axes = fig.subplots(1, len(panels), squeeze=False)
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
    return finish(fig, path, title)


def plot_learning_speed(speeds, path=None, title=None):
    """The speed of learning per epoch, one line per hidden layer: the book's chapter-5 figure.

    Parameters
    ----------
    speeds : list of lists of float
        ``net.history["learning_speed"]``: entry k holds ``||delta^l|| = ||dC/db^l||``
        for each hidden layer l after k epochs of training (entry 0 before training).
    path : path-like, optional
        Where to write the PNG, if anywhere.
    title : str, optional
        A line under the book's title (the run's settings, for instance).

    Returns
    -------
    matplotlib.figure.Figure or None
        The figure, or None when there is nothing to plot (no hidden layer, no entry).
    """
    n_hidden = len(speeds[0]) if speeds else 0
    if not n_hidden:
        return None
    fig = new_figure(figsize=(8, 5))
    ax = fig.subplots()
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
    return finish(fig, path)


def plot_sweep(rows, summary, path=None, title=None):
    """A sweep's figure: every network's evaluation accuracy per epoch, coloured by configuration, and the
    distribution of best accuracy per configuration (sizes, eta, lambda).

    `rows` and `summary` are the ``epochs.csv`` and ``summary.csv`` rows (:mod:`dlpy35.storage.tables`);
    `path`, `title` and the Figure returned as for :func:`plot_history`.
    """
    fig = new_figure(figsize=(13, 4.8))
    tab10 = _colormap("tab10")

    def config(r):
        return f"{r['sizes']} eta {float(r['eta']):g} lmbda {float(r['lmbda']):g}"

    configs = sorted({config(r) for r in summary})
    colours = {c: tab10(i % 10) for i, c in enumerate(configs)}
    curves, spread = fig.subplots(1, 2)
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
    return finish(fig, path, title)


def plot_confusion(matrix, path=None, title=None):
    """A confusion matrix (rows: the true class, columns: the answer), counts in the cells; `path`, `title`
    and the Figure returned as for :func:`plot_history`."""
    matrix = np.asarray(matrix)
    n = len(matrix)
    fig = new_figure(figsize=(1.5 + 0.55 * n, 1.2 + 0.5 * n))
    ax = fig.subplots()
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 3 else "black")
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
    return finish(fig, path)


def _colormap(name):
    """matplotlib's colormap `name`, from its registry (not pyplot's)."""
    import matplotlib

    return matplotlib.colormaps[name]

"""Chapter-3-style figures of a training run: accuracy and cost per epoch.

Needs matplotlib (``pip install 'dlpy35[plot]'``).  The PNG is written atomically.
"""

from __future__ import annotations

from dlpy35.atomic import atomic_write


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
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'dlpy35[plot]'") from None
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
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as f:
        fig.savefig(f, format="png", dpi=100)
    plt.close(fig)
    return path

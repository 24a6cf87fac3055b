"""Figures: each plot is a PNG of the size its figure asks for, its curves drawn where the data puts them.

The checks read the pixels back: matplotlib's default colours mark the curves
(C0 blue, C1 orange), so a blank or mis-drawn figure fails.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dlpy35.studies import plots

BLUE, ORANGE = (31, 119, 180), (255, 127, 14)  # matplotlib's C0 and C1


def read(path):
    """``(width, height, RGB array)`` of a PNG."""
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size[0], im.size[1], np.asarray(im.convert("RGB")).astype(int)


def near(pixels, colour, tol=40):
    """Mask of the pixels within `tol` of `colour` in every channel."""
    return (np.abs(pixels - np.array(colour)) <= tol).all(axis=2)


def rows_at_ends(mask):
    """Mean row of the marked pixels in the leftmost and in the rightmost tenth of the marked columns."""
    cols = np.flatnonzero(mask.any(axis=0))
    span = max((cols[-1] - cols[0]) // 10, 1)
    left = np.argwhere(mask[:, cols[0]:cols[0] + span])[:, 0].mean()
    right = np.argwhere(mask[:, cols[-1] - span + 1:cols[-1] + 1])[:, 0].mean()
    return left, right


def test_history_draws_accuracy_rising_and_cost_falling_side_by_side(tmp_path):
    history = {"training_accuracy": [100, 500, 900], "evaluation_accuracy": [],
               "training_cost": [3.0, 2.0, 1.0], "evaluation_cost": []}
    plots.plot_history(history, tmp_path / "h.png", "run", n_train=1000)
    width, height, px = read(tmp_path / "h.png")
    assert (width, height) == (1200, 420)  # two 6 x 4.2 inch panels at 100 dpi
    blue = near(px, BLUE)
    accuracy, cost = blue[:, :600], blue[:, 600:]
    assert accuracy.sum() > 300 and cost.sum() > 300, "a panel has no curve"
    left, right = rows_at_ends(accuracy)
    assert left > right + 100, "accuracy should rise: its right end higher up (smaller row)"
    left, right = rows_at_ends(cost)
    assert right > left + 100, "cost should fall: its right end lower down"


def test_history_of_training_and_evaluation_draws_two_curves_in_one_panel(tmp_path):
    history = {"training_accuracy": [800, 900], "evaluation_accuracy": [300, 350]}
    plots.plot_history(history, tmp_path / "h.png", n_train=1000, n_eval=1000)
    width, height, px = read(tmp_path / "h.png")
    assert (width, height) == (600, 420)
    assert near(px, BLUE).sum() > 200 and near(px, ORANGE).sum() > 200
    # training (blue, 80-90%) sits above evaluation (orange, 30-35%)
    assert np.argwhere(near(px, BLUE))[:, 0].mean() < np.argwhere(near(px, ORANGE))[:, 0].mean() - 50


def test_history_with_nothing_monitored_writes_nothing(tmp_path):
    assert plots.plot_history({"training_cost": [], "evaluation_accuracy": []}, tmp_path / "h.png") is None
    assert not (tmp_path / "h.png").exists()


def test_learning_speed_draws_one_line_per_hidden_layer(tmp_path):
    speeds = [[1.0, 0.1], [0.5, 0.05], [0.25, 0.02]]
    plots.plot_learning_speed(speeds, tmp_path / "s.png", "two layers")
    width, height, px = read(tmp_path / "s.png")
    assert (width, height) == (800, 500)
    first, second = near(px, BLUE), near(px, ORANGE)
    assert first.sum() > 200 and second.sum() > 200
    assert np.argwhere(first)[:, 0].mean() < np.argwhere(second)[:, 0].mean()  # layer 1 learns faster: above
    assert plots.plot_learning_speed([[], []], tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_sweep_draws_every_networks_curve_and_the_spread(tmp_path):
    rows, summary = [], []
    for net, eta in enumerate([0.5, 0.5, 3.0]):
        for epoch in range(3):
            rows.append({"net": net, "sizes": "784-30-10", "eta": eta, "lmbda": 0, "epoch": epoch,
                         "evaluation_correct": 5000 + 1000 * epoch + 100 * net, "evaluation_total": 10000})
        summary.append({"net": net, "sizes": "784-30-10", "eta": eta, "lmbda": 0,
                        "best_correct": 7000 + 100 * net, "evaluation_total": 10000})
    plots.plot_sweep(rows, summary, tmp_path / "w.png", "sweep")
    width, height, px = read(tmp_path / "w.png")
    assert (width, height) == (1300, 480)
    r, b = px[..., 0], px[..., 2]
    bluish, orangish = b > r + 40, r > b + 80  # C0 and C1 drawn half transparent
    curves, spread = slice(0, 650), slice(650, None)
    assert bluish[:, curves].sum() > 100 and orangish[:, curves].sum() > 50  # one colour per configuration
    assert bluish[:, spread].sum() > 20 and orangish[:, spread].sum() > 20


def test_confusion_matrix_shades_the_cells_by_count(tmp_path):
    matrix = np.diag([900] * 10) + 3
    plots.plot_confusion(matrix, tmp_path / "c.png", "confusion")
    width, height, px = read(tmp_path / "c.png")
    assert (width, height) == (700, 620)
    dark = (px.mean(axis=2) < 120) & (px[..., 2] > px[..., 0] + 50)  # dark blue: the diagonal's cells
    rows, cols = np.nonzero(dark)
    assert dark.sum() > 1000
    # the dark cells lie along the diagonal: row and column rise together
    assert np.corrcoef(rows, cols)[0, 1] > 0.9


def test_a_plot_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "h.png"
    path.write_bytes(b"an older figure")
    plots.plot_history({"training_cost": [2.0, 1.0]}, path)
    assert read(path)[:2] == (600, 420)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.png"]


def test_without_matplotlib_it_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'dlpy35\[plot\]'"):
        plots.plot_history({"training_cost": [1.0]}, tmp_path / "h.png")
    assert not (tmp_path / "h.png").exists()


# --------------------------------------------------------------------------- Figures for notebooks

SWEEP_ROWS = [{"net": 0, "sizes": "784-30-10", "eta": 0.5, "lmbda": 0, "epoch": e,
               "evaluation_correct": 5000 + 1000 * e, "evaluation_total": 10000} for e in range(3)]
SWEEP_SUMMARY = [{"net": 0, "sizes": "784-30-10", "eta": 0.5, "lmbda": 0, "best_correct": 7000,
                  "evaluation_total": 10000}]
PLOTS = [  # (function, its data, the figure's size in pixels)
    (plots.plot_history, ({"training_cost": [2.0, 1.0], "evaluation_accuracy": [10, 20]},), (1200, 420)),
    (plots.plot_learning_speed, ([[1.0, 0.1], [0.5, 0.05]],), (800, 500)),
    (plots.plot_sweep, (SWEEP_ROWS, SWEEP_SUMMARY), (1300, 480)),
    (plots.plot_confusion, (np.diag([9] * 3) + 1,), (315, 270)),  # 1.5 + 0.55 n by 1.2 + 0.5 n inches
]


@pytest.mark.parametrize(("plot", "data", "size"), PLOTS, ids=[p[0].__name__ for p in PLOTS])
def test_a_plot_returns_a_figure_a_notebook_shows_and_writes_nothing_without_a_path(
        plot, data, size, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    monkeypatch.chdir(tmp_path)
    fig = plot(*data)
    assert isinstance(fig, Figure)
    assert list(tmp_path.iterdir()) == []  # no path: nothing written
    png = fig._repr_png_()  # what IPython's display() asks an object for
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG" and im.size == size
    buf = io.BytesIO()
    fig.savefig(buf, format="png")  # a Figure's own savefig works without pyplot
    assert buf.getvalue().startswith(b"\x89PNG")
    assert plot(*data, tmp_path / "p.png") is not None
    assert read(tmp_path / "p.png")[:2] == size  # the file is the figure the notebook shows


NO_PYPLOT = """
import sys
import matplotlib
matplotlib.use("svg")  # a backend the old plots would have switched to Agg
import numpy as np
from dlpy35.studies import figures, plots

hist = {"training_cost": [2.0, 1.0], "evaluation_accuracy": [10, 20]}
made = [plots.plot_history(hist), plots.plot_learning_speed([[1.0], [0.5]]),
        plots.plot_confusion(np.eye(2, dtype=int))]
for name in ("overfitting", "learning-rates"):
    f = figures.get(name)
    columns = {"epoch": [0, 1], "training_cost": [2.0, 1.0], "test_accuracy": [80.0, 85.0]}
    columns.update({figures.eta_column(e): [2.0, 1.0] for e in f.etas})
    made.append(figures.draw(figures.Result(f, 2, 100, 0, columns, 1.0, "cpu")))
sizes = [tuple(int(v) for v in fig.get_size_inches() * 100) for fig in made]
assert all(fig._repr_png_().startswith(b"\\x89PNG") for fig in made)
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules, sizes)
"""


def test_plots_leave_the_backend_as_it_was_and_never_import_pyplot():
    """A notebook's inline backend must survive a plot: no ``matplotlib.use``, no pyplot."""
    out = subprocess.run([sys.executable, "-c", NO_PYPLOT], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(maxsplit=2)[:2] == ["svg", "False"], out.stdout
    assert out.stdout.split(maxsplit=2)[2].strip() == str([(1200, 420), (800, 500), (260, 220), (1200, 800),
                                                            (800, 500)])


def test_sweep_colours_each_configuration_once_and_puts_each_best_in_percent_on_its_row():
    """Figure data, not pixels: three configurations, the first with six networks (the jitter's pattern is
    five wide), the last with none that has a best (it diverged); every best accuracy at its percentage,
    its point in its configuration's colour, within 0.12 of its row; a network without a best left out."""
    import matplotlib.colors as mcolors

    etas = [0.5] * 6 + [3.0, 3.0, 9.0]
    rows = [{"net": net, "sizes": "784-30-10", "eta": eta, "lmbda": 0, "epoch": e,
             "evaluation_correct": 5000 + 1000 * e + 10 * net, "evaluation_total": 10000}
            for net, eta in enumerate(etas) for e in range(2)]
    summary = [{"net": net, "sizes": "784-30-10", "eta": eta, "lmbda": 0, "best_correct": 6000 + 10 * net,
                "evaluation_total": 10000} for net, eta in enumerate(etas)]
    summary[7]["best_correct"] = summary[8]["best_correct"] = ""  # diverged: no best epoch
    fig = plots.plot_sweep(rows, summary)
    curves, spread = fig.axes[:2]
    colours = [mcolors.to_hex(line.get_color()) for line in curves.lines]
    assert len(colours) == 9 and len(set(colours[:6])) == 1 and colours[6] == colours[7] != colours[0]
    assert [list(line.get_ydata()) for line in curves.lines][6] == [50.6, 60.6]
    points = [line for line in spread.lines if line.get_marker() == "o"]
    assert [list(p.get_xdata()) for p in points] == [[60.0, 60.1, 60.2, 60.3, 60.4, 60.5], [60.6], []]
    assert [mcolors.to_hex(p.get_color()) for p in points[:2]] == [colours[0], colours[6]]
    assert {(p.get_markersize(), p.get_alpha()) for p in points} == {(4, 0.7)}  # small, half-transparent
    for row, p in enumerate(points, start=1):
        assert all(abs(y - row) <= 0.12 + 1e-12 for y in p.get_ydata())
    assert [t.get_text()[-5:] for t in spread.get_yticklabels()] == ["(n=6)", "(n=1)", "(n=0)"]


def test_the_confusion_matrix_names_its_axes_and_writes_counts_above_a_third_of_the_most_in_white():
    import matplotlib.colors as mcolors

    ax = plots.plot_confusion(np.array([[9, 3], [4, 0]]), title="test set").axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted", "true", "test set")
    assert {t.get_text(): mcolors.to_hex(t.get_color()) for t in ax.texts} == {
        "9": "#ffffff", "4": "#ffffff", "3": "#000000", "0": "#000000"}


def test_history_takes_its_title_and_says_percent_only_when_it_knows_the_sizes():
    fig = plots.plot_history({"evaluation_accuracy": [5, 7], "training_cost": [2.0, 1.0]}, title="run 7")
    assert fig.get_suptitle() == "run 7" and fig.axes[0].get_ylabel() == "Accuracy"
    assert (fig.axes[1].get_title(), fig.axes[1].get_ylabel()) == ("Cost per epoch", "Cost")
    assert fig.axes[0].get_xlabel() == fig.axes[1].get_xlabel() == "Epoch"
    fig = plots.plot_history({"evaluation_accuracy": [5, 7]}, n_eval=10)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "Accuracy (%)" and list(ax.lines[0].get_ydata()) == [50.0, 70.0]


def test_a_sweeps_points_keep_their_configurations_colours_under_another_colour_cycle():
    """A configuration's points are in its curves' colour, whatever colour cycle a notebook's settings
    choose (here black alone)."""
    import matplotlib
    import matplotlib.colors as mcolors
    from cycler import cycler

    with matplotlib.rc_context({"axes.prop_cycle": cycler(color=["#000000"])}):
        fig = plots.plot_sweep(SWEEP_ROWS, SWEEP_SUMMARY)
    curves, spread = fig.axes[:2]
    points = [line for line in spread.lines if line.get_marker() == "o"]
    assert [mcolors.to_hex(p.get_color()) for p in points] == [mcolors.to_hex(curves.lines[0].get_color())]
    assert mcolors.to_hex(points[0].get_color()) != "#000000"

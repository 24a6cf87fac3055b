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


# --------------------------------------------------------------------------- the Figures' artists

def _hex(colour):
    import matplotlib.colors as mcolors

    return mcolors.to_hex(colour)


def _grid(axis, which="major"):
    """``(shown, alpha)`` of the first gridline of `axis` (an Axes' xaxis or yaxis)."""
    ticks = axis.get_major_ticks() if which == "major" else axis.get_minor_ticks()
    return ticks[0].gridline.get_visible(), ticks[0].gridline.get_alpha()


def test_a_figure_is_laid_out_tight_and_named_as_this_modules_plot():
    from matplotlib.layout_engine import TightLayoutEngine

    fig = plots.new_figure(figsize=(2, 1))
    assert isinstance(fig.get_layout_engine(), TightLayoutEngine)
    assert tuple(fig.get_size_inches()) == (2, 1)
    assert (type(fig).__module__, type(fig).__name__) == ("dlpy35.studies.plots", "Plot")
    assert fig.get_suptitle() == ""  # no title given: none drawn
    assert plots.finish(fig) is fig and fig.get_suptitle() == ""
    assert plots.finish(fig, title="above").get_suptitle() == "above"


def test_a_png_is_a_png_of_100_pixels_per_inch_whatever_the_notebooks_settings():
    import matplotlib

    with matplotlib.rc_context({"figure.dpi": 50, "savefig.dpi": 50, "savefig.format": "svg"}):
        fig = plots.new_figure(figsize=(3, 2))
        with Image.open(io.BytesIO(plots.png_bytes(fig))) as im:
            assert im.size == (300, 200)


@pytest.mark.filterwarnings("error")  # a plot warns of nothing (a grid asked for off yet styled would)
def test_history_marks_training_with_circles_and_evaluation_with_squares_in_each_panel():
    history = {"training_accuracy": [10, 20, 30], "evaluation_accuracy": [5, 15, 25],
               "training_cost": [3.0, 2.0, 1.0], "evaluation_cost": [3.5, 2.5, 1.5]}
    fig = plots.plot_history(history, n_train=40)
    assert tuple(fig.get_size_inches()) == (12, 4.2)
    accuracy, cost = fig.axes
    for ax, label, ys in ((accuracy, "Accuracy", [[25.0, 50.0, 75.0], [5, 15, 25]]),
                          (cost, "Cost", [[3.0, 2.0, 1.0], [3.5, 2.5, 1.5]])):
        assert [(line.get_linestyle(), line.get_marker(), line.get_markersize(), line.get_label())
                for line in ax.lines] == [("-", "o", 3, "training data"), ("-", "s", 3, "evaluation data")]
        assert [list(line.get_xdata()) for line in ax.lines] == [[0, 1, 2]] * 2
        assert [list(line.get_ydata()) for line in ax.lines] == ys  # n_eval unknown: evaluation in counts
        assert ax.get_title() == f"{label} per epoch"
        assert _grid(ax.xaxis) == _grid(ax.yaxis) == (True, 0.3)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training data", "evaluation data"]
    assert (accuracy.get_ylabel(), cost.get_ylabel()) == ("Accuracy (%)", "Cost")  # the cost is never in %
    assert [ax.get_title() for ax in plots.plot_history({"training_accuracy": [1, 2]}).axes] == [
        "Accuracy per epoch"]
    assert [ax.get_title() for ax in plots.plot_history({"evaluation_cost": [1.0]}).axes] == [
        "Cost per epoch"]


@pytest.mark.parametrize("speeds, xlim, heading", [
    ([[1.0]], (0, 1), "Speed of learning: 1 hidden layer"),  # one entry: the axis still spans one epoch
    ([[1.0, 0.1], [0.5, 0.05], [0.2, 0.01]], (0, 2), "Speed of learning: 2 hidden layers"),
    ([[1.0, 0.1, 0.01]] * 4, (0, 3), "Speed of learning: 3 hidden layers"),
])
@pytest.mark.filterwarnings("error")
def test_learning_speed_names_its_layers_on_a_log_scale_over_its_epochs(speeds, xlim, heading):
    fig = plots.plot_learning_speed(speeds)
    ax = fig.axes[0]
    n = len(speeds[0])
    assert tuple(fig.get_size_inches()) == (8, 5)
    assert [line.get_label() for line in ax.lines] == [f"Hidden layer {k}" for k in range(1, n + 1)]
    assert [list(line.get_ydata()) for line in ax.lines] == [[s[k] for s in speeds] for k in range(n)]
    assert [list(line.get_xdata()) for line in ax.lines] == [list(range(len(speeds)))] * n
    assert ax.get_yscale() == "log" and ax.get_xlim() == xlim
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Number of epochs of training", "||dC/db|| of the layer")
    assert ax.get_title() == heading and ax.title.get_fontsize() == 9
    assert _grid(ax.yaxis) == _grid(ax.yaxis, "minor") == (True, 0.3)
    assert ax.get_legend()._loc == 1  # "upper right"
    assert plots.plot_learning_speed(speeds, title="run 3").axes[0].get_title() == heading + "\nrun 3"
    assert fig.get_suptitle() == ""


def test_learning_speed_of_no_entries_is_nothing():
    assert plots.plot_learning_speed([]) is None


def _sweep_config(net, eta, lmbda, best, sizes="784-30-10"):
    return {"net": net, "sizes": sizes, "eta": eta, "lmbda": lmbda, "best_correct": best,
            "evaluation_total": 200}


@pytest.mark.filterwarnings("error")
def test_sweep_draws_its_curves_thin_and_its_spread_as_horizontal_boxes_without_outliers():
    """Side by side: the curves at their rows' epochs (here from epoch 1), the spread of the best."""
    rows = [{"net": 0, "sizes": "784-30-10", "eta": "0.50", "lmbda": "0.0", "epoch": e,
             "evaluation_correct": 100 + 10 * e, "evaluation_total": 200} for e in range(1, 4)]
    summary = [_sweep_config(0, "0.50", "0.0", 150), _sweep_config(1, "0.50", "0.0", 160),
               _sweep_config(2, "0.50", "0.0", 170), _sweep_config(3, "0.50", "0.0", 20),
               _sweep_config(4, "0.50", "0.0", 180), _sweep_config(5, "0.50", "0.0", 190),
               _sweep_config(6, "0.50", "0.0", None)]
    fig = plots.plot_sweep(rows, summary, title="my sweep")
    assert tuple(fig.get_size_inches()) == (13, 4.8) and fig.get_suptitle() == "my sweep"
    curves, spread = fig.axes
    left, right = curves.get_position(), spread.get_position()
    assert left.x1 < right.x0 and (left.y0, left.y1) == (right.y0, right.y1)
    (curve,) = curves.lines
    assert list(curve.get_xdata()) == [1, 2, 3] and list(curve.get_ydata()) == [55.0, 60.0, 65.0]
    assert (curve.get_alpha(), curve.get_linewidth(), _hex(curve.get_color())) == (0.6, 1, "#1f77b4")
    assert (curves.get_xlabel(), curves.get_ylabel(), curves.get_title()) == (
        "Epoch", "Evaluation accuracy (%)", "Every network, per epoch")
    assert (spread.get_xlabel(), spread.get_title()) == ("Best evaluation accuracy (%)",
                                                         "Best accuracy per configuration")
    for ax in (curves, spread):
        assert _grid(ax.xaxis) == (True, 0.3)
    box = spread.lines[0]  # the box: from the lower to the upper quartile, across row 1
    quartiles = np.percentile([75, 80, 10, 85, 90, 95], [25, 75])
    np.testing.assert_allclose(sorted(set(box.get_xdata())), quartiles)
    assert 0.5 < min(box.get_ydata()) < 1 < max(box.get_ydata())
    points = [line for line in spread.lines if line.get_marker() == "o"]
    assert len(points) == 1  # no outlier drawn (10% would be one): only the six networks with a best
    np.testing.assert_allclose(points[0].get_xdata(), [75, 80, 85, 10, 90, 95])
    # jittered five wide, 0.06 apart, around the row
    np.testing.assert_allclose(points[0].get_ydata(), [0.88, 0.94, 1.0, 1.06, 1.12, 0.88])
    assert [(t.get_text(), t.get_fontsize()) for t in spread.get_yticklabels()] == [
        ("784-30-10 eta 0.5 lmbda 0 (n=6)", 8)]
    assert list(spread.get_yticks()) == [1]


def test_sweep_colours_ten_configurations_apart_in_their_sorted_order_and_the_eleventh_as_the_first():
    summary = [_sweep_config(k, 0.1 * (k + 1), 0, 100) for k in range(11)]
    rows = [{**s, "epoch": 0, "evaluation_correct": 100} for s in summary]
    import matplotlib

    tab10 = [_hex(c) for c in matplotlib.colormaps["tab10"].colors]
    fig = plots.plot_sweep(rows, summary)
    curves, spread = fig.axes
    labels = [t.get_text() for t in spread.get_yticklabels()]
    assert labels == sorted(labels) and len(labels) == 11  # eta 0.1 ... 1.1, sorted as text
    points = [line for line in spread.lines if line.get_marker() == "o"]
    assert [_hex(p.get_color()) for p in points] == tab10 + tab10[:1]
    order = [labels.index(f"784-30-10 eta {0.1 * (k + 1):g} lmbda 0 (n=1)") for k in range(11)]
    assert [_hex(line.get_color()) for line in curves.lines] == [(tab10 + tab10[:1])[i] for i in order]
    assert list(spread.get_yticks()) == list(range(1, 12))


@pytest.mark.filterwarnings("error")
def test_the_confusion_matrix_shades_log_counts_in_blues_and_writes_each_count_in_its_cell():
    matrix = [[9, 3, 0], [4, 0, 1], [2, 8, 27]]
    fig = plots.plot_confusion(matrix)
    ax = fig.axes[0]
    np.testing.assert_allclose(tuple(fig.get_size_inches()), (1.5 + 0.55 * 3, 1.2 + 0.5 * 3))
    (image,) = ax.images
    assert image.get_cmap().name == "Blues"
    np.testing.assert_allclose(image.get_array(), np.log(1 + np.array(matrix)))
    cells = {t.get_position(): (t.get_text(), t.get_ha(), t.get_va(), t.get_fontsize(), _hex(t.get_color()))
             for t in ax.texts}
    assert len(cells) == 9
    for i in range(3):
        for j in range(3):  # x the column (the answer), y the row (the true class); white above 27 / 3 = 9
            colour = "#ffffff" if matrix[i][j] > 9 else "#000000"
            assert cells[(j, i)] == (str(matrix[i][j]), "center", "center", 7, colour)
    assert list(ax.get_xticks()) == list(ax.get_yticks()) == [0, 1, 2]
    assert (ax.get_title(), fig.get_suptitle()) == ("", "")

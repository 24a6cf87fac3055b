"""Tests for ``dlpy35 figure`` (dlpy35.studies.figures): the book's chapter-3 figures, each in --quick mode.

Each figure trains once per module on the real MNIST (20 epochs; the learning
rates on 2,000 images), through the command as ``dlpy35 figure`` runs it; the
tests read its PNG and CSV.  The learning-rate population is compared with a
``network2`` network trained alone.  Mistakes must be one line and exit 2 before
any data loads.

The rest runs in well under a second each: the book's settings; ``compute`` on
scripted stand-ins for the network and the population (what it asks of them, the
columns, the log and the regularisation term it makes of their numbers); and the
drawings' matplotlib Figures read artist by artist (sizes, lines, colours, limits,
ticks, grids, fonts, the note).
"""

from __future__ import annotations

import itertools
import types

import numpy as np
import pytest
from command_helpers import run_main

from dlpy35 import network2
from dlpy35.cli import figure
from dlpy35.cli.common import ArgumentParser
from dlpy35.storage.tables import read_csv
from dlpy35.studies import figures

PIXELS = {"overfitting": (1200, 800), "regularization": (1200, 800), "learning-rates": (800, 500)}
COLUMNS = {"overfitting": ["epoch", "training_cost", "test_accuracy"],
           "regularization": ["epoch", "training_cost", "test_accuracy"],
           "learning-rates": ["epoch", "training_cost_eta_0.025", "training_cost_eta_0.25",
                              "training_cost_eta_2.5"]}
CURVE_PIXELS = 300  # a drawn curve has well over this many pixels of its colour; a legend entry far fewer


def _main(argv):
    p = ArgumentParser(figure.__doc__, prog="dlpy35 figure")
    figure.configure(p)
    return figure.execute(p, p.parse_args(argv))


@pytest.fixture(scope="module")
def drawn(tmp_path_factory, mnist_dir):
    """Every figure drawn once with --quick: name -> (exit status, PNG path, CSV path)."""
    out = tmp_path_factory.mktemp("figures")
    found = {}
    for name in figures.FIGURES:
        png = out / f"{name}.png"
        status = _main([name, "--quick", "--quiet", "--device", "cpu", "--data-dir", str(mnist_dir),
                        "-o", str(png)])
        found[name] = status, png, png.with_suffix(".csv")
    return found


def _colour_pixels(image, colour, tolerance=60):
    """How many pixels of the RGB array `image` lie within `tolerance` of the hex `colour`."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int(np.sum(np.abs(image[..., :3].astype(int) - rgb).sum(axis=-1) < tolerance))


def test_the_three_figures_are_listed(capsys):
    status, out, _ = run_main(_main, ["--list"], capsys)
    assert status == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["overfitting", "regularization", "learning-rates"]


@pytest.mark.parametrize("name", list(figures.FIGURES))
def test_quick_figure_writes_a_png_with_its_curves_drawn(drawn, name):
    from PIL import Image

    status, png, _ = drawn[name]
    assert status == 0
    with Image.open(png) as im:
        assert im.format == "PNG"
        assert im.size == PIXELS[name]
        image = np.asarray(im.convert("RGB"))
    if name == "learning-rates":  # one curve per eta, in the book's colours
        for colour in figures.BOOK_COLORS:
            assert _colour_pixels(image, colour) > CURVE_PIXELS, colour
    else:  # four panels: the training cost and the test accuracy, all epochs and the second half
        h, w = image.shape[0] // 2, image.shape[1] // 2
        for quarter in (image[:h, :w], image[:h, w:], image[h:, :w], image[h:, w:]):
            assert _colour_pixels(quarter, figures.BLUE) > CURVE_PIXELS


@pytest.mark.parametrize("name", list(figures.FIGURES))
def test_quick_figure_writes_its_numbers_one_row_per_epoch(drawn, name):
    _, _, csv = drawn[name]
    rows = read_csv(csv)
    epochs = figures.FIGURES[name].quick_epochs
    assert list(rows[0]) == COLUMNS[name]
    assert [int(r["epoch"]) for r in rows] == list(range(epochs))
    values = np.array([[float(r[c]) for c in COLUMNS[name][1:]] for r in rows])
    assert np.isfinite(values).all()
    costs = values[:, :-1] if name != "learning-rates" else values
    assert (costs[-1] < costs[0]).all()  # every network learned something
    if name != "learning-rates":
        assert 60 < values[-1, -1] <= 100  # the test accuracy in %, after 20 epochs on 1,000 images


def test_learning_rates_equal_a_network2_network_trained_alone(drawn, mnist):
    """The population's eta 0.25 curve is a ``network2`` run's ``training_cost``, within float32 rounding."""
    fig = figures.FIGURES["learning-rates"]
    epochs, n = fig.settings(quick=True)
    (x, y), _, _ = mnist
    net = network2.Network(list(fig.sizes), cost=network2.CrossEntropyCost, seed=0, device="cpu")
    _, _, alone, _ = net.SGD((x[:n], y[:n]), epochs, fig.mini_batch_size, 0.25, lmbda=fig.lmbda,
                             monitor_training_cost=True, verbose=False)
    together = [float(r["training_cost_eta_0.25"]) for r in read_csv(drawn["learning-rates"][2])]
    assert len(alone) == len(together) == epochs
    # a population's kernels against one network's, float32: measured 2.4e-7 relative at most (AMD
    # EPYC, AVX-512, and with XLA_FLAGS=--xla_cpu_max_isa=AVX2 or SSE4_2); a 40x margin
    np.testing.assert_allclose(together, alone, rtol=1e-5)


@pytest.fixture
def no_training(monkeypatch):
    """Loading the data or training fails the test: the command must stop before."""
    def refuse(*args, **kwargs):
        raise AssertionError("the command went on to load the data or train")
    monkeypatch.setattr("dlpy35.data.load_data", refuse)
    monkeypatch.setattr(figures, "compute", refuse)


def _one_line_error(status, out, err, *words):
    assert status == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err


def test_a_bad_name_is_one_line_and_exit_2_before_training(no_training, tmp_path, capsys):
    status, out, err = run_main(_main, ["overfit", "-o", str(tmp_path / "x.png")], capsys)
    _one_line_error(status, out, err, "invalid choice", "learning-rates")
    status, out, err = run_main(_main, ["-o", str(tmp_path / "x.png")], capsys)
    _one_line_error(status, out, err, "give a figure")


@pytest.mark.parametrize("where, words", [
    ("a_file/x.png", ["cannot write into"]),  # under a regular file
    ("dir.png", ["is a directory"]),
    ("x.jpg", ["ending in .png"]),
    ("csvdir.png", ["the CSV beside it", "is a directory"]),
])
def test_an_unwritable_output_is_one_line_and_exit_2_before_training(no_training, tmp_path, capsys, where,
                                                                     words):
    (tmp_path / "a_file").write_text("not a directory")
    (tmp_path / "dir.png").mkdir()
    (tmp_path / "csvdir.csv").mkdir()
    status, out, err = run_main(_main, ["overfitting", "--quick", "-o", str(tmp_path / where)], capsys)
    _one_line_error(status, out, err, *words)
    assert not (tmp_path / "x.png").exists()


def test_a_bad_mode_is_one_line_and_exit_2_before_training(no_training, tmp_path, capsys):
    status, out, err = run_main(_main, ["regularization", "--mode", "FAST", "-o", str(tmp_path / "x.png")],
                                capsys)
    _one_line_error(status, out, err, "FAST")


def test_a_tie_for_the_best_accuracy_names_its_first_epoch():
    """describe (and draw_overfitting's note): the earliest of equally best epochs, as documented."""
    fig = figures.get("overfitting")
    acc = [80.0, 83.0, 82.6, 83.0, 81.0]
    result = figures.Result(fig, 5, 1000, 0, {"epoch": list(range(5)), "training_cost": [1.0] * 5,
                                              "test_accuracy": acc}, 1.0, "cpu")
    first = figures.describe(result).splitlines()[0]
    assert first == ("test accuracy: 81.00% after epoch 4; best 83.00% at epoch 1; within 0.5 points of the "
                     "best from epoch 1")
    assert figures.plateau([80.0, 82.4, 82.6, 83.0, 83.0]) == 2  # first within 0.5 of 83


def test_the_learning_rates_numbers_say_which_eta_diverged_and_the_panel_is_the_cost():
    """describe and draw_learning_rates on scripted numbers: eta 2.5 diverged in epoch 1 (its cost NaN
    after), the other two did not, and their lines say nothing of divergence."""
    fig = figures.get("learning-rates")
    nan = float("nan")
    columns = {"epoch": [0, 1, 2], figures.eta_column(0.025): [3.0, 2.5, 2.0],
               figures.eta_column(0.25): [2.0, 1.0, 0.5], figures.eta_column(2.5): [5.0, nan, nan]}
    result = figures.Result(fig, 3, 1000, 0, columns, 2.0, "cpu", diverged={2.5: 1})
    assert figures.describe(result).splitlines() == [
        "eta 0.025: training cost 3.0000 after epoch 0, 2.0000 after epoch 2, lowest 2.0000",
        "eta 0.25: training cost 2.0000 after epoch 0, 0.5000 after epoch 2, lowest 0.5000",
        "eta 2.5: training cost 5.0000 after epoch 0, nan after epoch 2, lowest 5.0000; diverged in epoch 1",
        "2.0 s on cpu"]
    ax = figures.draw_learning_rates(result).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Epoch", "Cost")
    assert ax.get_title() == "Cost on the training data"
    assert [line.get_label() for line in ax.lines][2] == "$\\eta$ = 2.5 (diverged in epoch 1)"


@pytest.mark.parametrize("epochs, logged", [(42, [*range(0, 42, 2), 41]), (7, list(range(7))),
                                            (45, list(range(0, 45, 2))), (40, [*range(0, 40, 2), 39]),
                                            (400, [*range(0, 400, 20), 399])])  # the book's 400: 21 lines
def test_about_twenty_epochs_and_the_last_are_logged(epochs, logged):
    """Every (epochs // 20)-th epoch from 0, at least every one, and the last."""
    lines = []
    maybe = figures._every(epochs, lines.append)
    for epoch in range(epochs):
        maybe(epoch, epoch)
    assert lines == logged
    figures._every(epochs, None)(0, "no log: nothing")  # and no error


# --------------------------------------------------------------------------- the book's settings

def test_each_figure_trains_as_the_books_script_trained_it():
    """(epochs, n_train, etas, lmbda, weights) of the book's runs, and of the quick runs."""
    book = {"overfitting": (400, 1000, (0.5,), 0.0, "large", (20, 1000)),
            "regularization": (400, 1000, (0.5,), 0.1, "large", (20, 1000)),
            "learning-rates": (30, None, (0.025, 0.25, 2.5), 5.0, "default", (20, 2000))}
    for name, (epochs, n_train, etas, lmbda, init, quick) in book.items():
        f = figures.get(name)
        assert (f.epochs, f.n_train, f.etas, f.lmbda, f.weight_init) == (epochs, n_train, etas, lmbda, init)
        assert (f.sizes, f.mini_batch_size) == ((784, 30, 10), 10)
        assert f.settings() == f.settings(quick=False) == (epochs, n_train)
        assert f.settings(quick=True) == quick
    assert figures.default_output("learning-rates") == figures.Path("learning_rates.png")
    assert figures.default_output("overfitting") == figures.Path("overfitting.png")
    assert figures.csv_path("runs/a.b/fig.png") == figures.Path("runs/a.b/fig.csv")
    assert figures.eta_column(0.025) == "training_cost_eta_0.025"


def test_a_results_rows_are_its_columns_read_across_and_written_as_csv(tmp_path):
    result = figures.Result(figures.get("overfitting"), 2, 1000, 0,
                            {"epoch": [0, 1], "training_cost": [2.5, 1.25], "test_accuracy": [80.0, 82.5]},
                            1.0, "cpu")
    assert result.rows() == [{"epoch": 0, "training_cost": 2.5, "test_accuracy": 80.0},
                             {"epoch": 1, "training_cost": 1.25, "test_accuracy": 82.5}]
    written = figures.write_numbers(result, str(tmp_path / "f.csv"))
    assert written == tmp_path / "f.csv" and isinstance(written, figures.Path)
    assert read_csv(written) == [{"epoch": "0", "training_cost": "2.5", "test_accuracy": "80.0"},
                                 {"epoch": "1", "training_cost": "1.25", "test_accuracy": "82.5"}]


def test_the_plateau_counts_an_accuracy_exactly_at_the_tolerance_and_skips_nan():
    assert figures.plateau([82.5, 83.0]) == 0  # 83.0 - 0.5: within
    assert figures.plateau([82.4, 83.0]) == 1
    assert figures.plateau([float("nan"), 80.0, 81.0]) == 2  # the best of the numbers, NaN never within
    assert figures.plateau([79.0, 80.0, 81.0], tolerance=1.0) == 1
    assert figures.plateau(["82.5", "83.0"]) == 0  # the accuracies as read back from the figure's CSV
    assert figures.plateau([None, 80.0, 81.0]) == 2  # a missing one: NaN


def test_the_titles_sizes_are_the_figures_own_whatever_the_notebooks_font_size():
    import matplotlib

    with matplotlib.rc_context({"font.size": 7}):
        fig = figures.draw_overfitting(_overfitting(2, [50.0, 60.0]))
    assert (fig._suptitle.get_fontsize(), fig.axes[1].texts[0].get_fontsize()) == (10, 9)


def test_the_overfitting_numbers_name_the_first_and_last_cost_and_the_time():
    result = figures.Result(figures.get("overfitting"), 3, 1000, 0,
                            {"epoch": [0, 1, 2], "training_cost": [2.5, 1.25, 0.5],
                             "test_accuracy": [70.0, 85.0, 84.0]}, 12.34, "cpu")
    assert figures.describe(result).splitlines() == [
        "test accuracy: 84.00% after epoch 2; best 85.00% at epoch 1; within 0.5 points of the best from "
        "epoch 1",
        "training cost: 2.5000 after epoch 0, 0.5000 after epoch 2",
        "12.3 s on cpu"]


# --------------------------------------------------------------------------- training, on scripted networks

TINY = figures.Figure("tiny", "a test's figure", "nothing", epochs=3, n_train=6, etas=(0.5,), lmbda=2.0,
                      weight_init="large", sizes=(2, 3, 2), mini_batch_size=2)
TINY_RATES = figures.Figure("tiny-rates", "a test's figure", "nothing", epochs=3, n_train=None,
                            etas=(4.0, 0.5), lmbda=2.0, weight_init="default", sizes=(2, 1, 1),
                            mini_batch_size=2, quick_epochs=2, quick_n_train=4)
TWO_RATES = figures.Figure("two", "", "", epochs=2, n_train=None, etas=(0.5, 4.0), lmbda=0.0,
                           weight_init="default")


def _data(n=8, n_test=4):
    """The book's three pairs: `n` training images numbered 0.., a validation set, `n_test` test images."""
    x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
    test = (np.full((n_test, 2), -1.0, np.float32), np.zeros(n_test, int))
    return (x, np.arange(n) % 2), None, test


class _Scripted:
    """What compute asked of a network (or population), answered with scripted numbers."""

    def __init__(self, sizes, *args, **kwargs):
        self.made = (sizes, args, kwargs)
        self.device = type("D", (), {"describe": lambda self: "a scripted device"})()
        _Scripted.last = self


class _Network(_Scripted):
    COST, ACCURACY = [2.0, 1.5, 1.25], [1, 3, 4]  # accuracy: of the 4 test images

    def SGD(self, training, epochs, mini_batch_size, eta, **kwargs):  # noqa: N802 (network2's name)
        self.sgd = (training, epochs, mini_batch_size, eta, kwargs)
        if kwargs["progress"]:
            kwargs["progress"](0, 1, 3)
        for epoch, (c, a) in enumerate(zip(self.COST, self.ACCURACY)):
            kwargs["on_epoch"]({"epoch": epoch, "training_cost": c, "evaluation_accuracy": a})
        return [], list(self.ACCURACY), list(self.COST), []


def _tiny(monkeypatch):
    monkeypatch.setitem(figures.FIGURES, "tiny", TINY)
    monkeypatch.setitem(figures.FIGURES, "tiny-rates", TINY_RATES)
    clock = itertools.count(100.0, 2.5)  # every run takes 2.5 s
    monkeypatch.setattr(figures.time, "perf_counter", lambda: next(clock))


def test_an_overfitting_figure_trains_one_network2_network_as_the_figure_says(monkeypatch, capsys):
    from dlpy35.engine.costs import CrossEntropyCost

    _tiny(monkeypatch)
    monkeypatch.setattr("dlpy35.network2.Network", _Network)
    progress, logged = [], []
    data = _data()
    result = figures.compute("tiny", data, seed=7, device="cpu", mode="NUMBA",
                             progress=lambda *a: progress.append(a), log=logged.append)
    net = _Scripted.last
    assert net.made == ([2, 3, 2], (), {"cost": CrossEntropyCost, "seed": 7, "mode": "NUMBA", "device": "cpu",
                                        "weight_init": "large"})
    (x, y), epochs, batch, eta, kwargs = net.sgd
    np.testing.assert_array_equal(x, data[0][0][:6])  # the figure's first 6 training images
    np.testing.assert_array_equal(y, data[0][1][:6])
    assert (epochs, batch, eta) == (3, 2, 0.5)
    assert kwargs.pop("evaluation_data") is data[2] and callable(kwargs.pop("on_epoch"))
    kwargs.pop("progress")
    assert kwargs == {"lmbda": 2.0, "monitor_evaluation_accuracy": True, "monitor_training_cost": True,
                      "verbose": False}
    assert progress == [(0, 1, 3)]
    assert logged == ["epoch 0: training cost 2.0000, test accuracy 1 / 4",
                      "epoch 1: training cost 1.5000, test accuracy 3 / 4",
                      "epoch 2: training cost 1.2500, test accuracy 4 / 4"]
    assert result.columns == {"epoch": [0, 1, 2], "training_cost": [2.0, 1.5, 1.25],
                              "test_accuracy": [25.0, 75.0, 100.0]}
    assert (result.figure, result.epochs, result.n_train, result.seed) == (TINY, 3, 6, 7)
    assert (result.seconds, result.device, result.diverged) == (2.5, "a scripted device", {})
    assert capsys.readouterr() == ("", "")


def test_a_figure_needs_its_training_images_and_takes_exactly_them(monkeypatch):
    _tiny(monkeypatch)
    monkeypatch.setattr("dlpy35.network2.Network", _Network)
    with pytest.raises(ValueError, match="tiny: needs 6 training images, the data has 5"):
        figures.compute("tiny", _data(n=5))
    dataset = type("Dataset", (), {"training": _data(n=6)[0], "test": _data()[2]})()
    assert figures.compute("tiny", dataset).n_train == 6
    assert _Scripted.last.sgd[4]["evaluation_data"] is dataset.test
    assert _Scripted.last.made[2]["seed"] == 0 and _Scripted.last.made[2]["mode"] is None  # the defaults
    assert _Scripted.last.made[2]["device"] == "auto"


W0 = np.array([[[1.0], [0.0]], [[10001.0], [2.0]]], np.float32)  # the hidden weights: network 0, network 1
W1 = np.array([[[2.0]], [[3.0]]], np.float32)


class _Population(_Scripted):
    diverged = [1, None]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trainer = type("T", (), {"values": lambda self: "the trained values"})()
        self.model = types.SimpleNamespace(split=self._split)

    @staticmethod
    def _split(values):
        """The weights and biases of the population's trained values (and of nothing else)."""
        assert values == "the trained values"
        return [W0, W1], None

    def SGD(self, training, epochs, mini_batch_size, **kwargs):  # noqa: N802 (Population's name)
        self.sgd = (training, epochs, mini_batch_size, kwargs)
        if kwargs["progress"]:
            kwargs["progress"](1, 2, 2)
        for epoch in range(epochs):
            ev = type("E", (), {"cost": 20.0 - epoch, "total": 4})()
            record = type("R", (), {"evaluations": {"evaluation": ev}})()
            records = [None if epoch else record, record]  # network 0 diverges in epoch 1
            kwargs["on_epoch"](type("Rec", (), {"epoch": epoch, "records": records})())


def test_the_learning_rate_figure_trains_one_population_and_adds_the_books_penalty(monkeypatch):
    """The cost of network i is its evaluation's mean cost plus lmbda / n * sum(w_i ** 2) / 2, in float64;
    a network whose record is missing (diverged) gets NaN from then on."""
    from dlpy35.engine.costs import CrossEntropyCost

    _tiny(monkeypatch)
    monkeypatch.setattr("dlpy35.engine.population.Population", _Population)
    progress, logged = [], []
    data = _data()
    result = figures.compute("tiny-rates", data, quick=True, seed=5, device="cpu", mode="JAX",
                             progress=lambda *a: progress.append(a), log=logged.append)
    pop = _Scripted.last
    assert pop.made == ([2, 1, 1], ([5, 5], [4.0, 0.5], 2.0),
                        {"cost": CrossEntropyCost, "weight_init": "default", "mode": "JAX", "device": "cpu"})
    (x, y), epochs, batch, kwargs = pop.sgd
    np.testing.assert_array_equal(x, data[0][0][:4])  # the quick run's 4 images
    assert (epochs, batch, set(kwargs)) == (2, 2, {"evaluation_data", "progress", "on_epoch"})
    for given, training in zip(kwargs["evaluation_data"], (x, y)):  # it evaluates its training data
        assert given is training
    assert progress == [(1, 2, 2)]
    penalty0 = (10001.0 ** 2 + 2.0 ** 2 + 3.0 ** 2) / 2  # 50010006.5: float32 squares would round it
    first = [20.0 / 4 + 2.0 / 4 * penalty0, 19.0 / 4 + 2.0 / 4 * penalty0]
    np.testing.assert_allclose(result.columns["training_cost_eta_0.5"], first, rtol=1e-15)
    diverging = result.columns["training_cost_eta_4"]
    assert diverging[0] == 20.0 / 4 + 2.0 / 4 * (1.0 + 4.0) / 2 and np.isnan(diverging[1])
    assert list(result.columns) == ["epoch", "training_cost_eta_4", "training_cost_eta_0.5"]
    assert result.columns["epoch"] == [0, 1]
    assert logged == [f"epoch 0: training cost 6.2500 (eta 4), {first[0]:.4f} (eta 0.5)",
                      f"epoch 1: training cost nan (eta 4), {first[1]:.4f} (eta 0.5)"]
    assert (result.epochs, result.n_train, result.seed, result.seconds) == (2, 4, 5, 2.5)
    assert (result.device, result.diverged) == ("a scripted device", {4.0: 1})


def test_a_figure_of_two_rates_is_a_population_and_of_one_a_network(monkeypatch):
    _tiny(monkeypatch)
    monkeypatch.setattr("dlpy35.engine.population.Population", _Population)
    monkeypatch.setattr("dlpy35.network2.Network", _Network)
    monkeypatch.setitem(figures.FIGURES, "two", TWO_RATES)
    assert isinstance(figures.compute("two", _data()) and _Scripted.last, _Population)
    assert isinstance(figures.compute("tiny", _data()) and _Scripted.last, _Network)


# --------------------------------------------------------------------------- drawing, on scripted numbers

def _grid(ax):
    tick = ax.xaxis.get_major_ticks()[0]
    return tick.gridline.get_visible(), tick.gridline.get_alpha()


def _overfitting(epochs, accuracy, cost=None, name="overfitting"):
    cost = cost or [2.0 / (e + 1) for e in range(epochs)]
    return figures.Result(figures.get(name), epochs, 1000, 4,
                          {"epoch": list(range(epochs)), "training_cost": cost, "test_accuracy": accuracy},
                          1.0, "cpu")


def test_the_titles_say_how_each_figure_was_trained():
    assert figures._title(_overfitting(1, [50.0])) == (
        "overfitting: [784, 30, 10], cross-entropy, N(0, 1) weights, eta 0.5, lmbda 0\n"
        "mini-batch 10, 1,000 training images, 1 epoch, seed 4\n"
        "(the book: the test accuracy stops improving around epoch 280, at 82-83%)")
    result = figures.Result(figures.get("learning-rates"), 30, 50000, 0, {}, 1.0, "cpu")
    assert figures._title(result) == (
        "learning-rates: [784, 30, 10], cross-entropy, N(0, 1/n_in) weights, eta 0.025, 0.25, 2.5, lmbda 5\n"
        "mini-batch 10, 50,000 training images, 30 epochs, seed 0\n"
        "(the book: 0.025 falls slowly, 0.25 best, 2.5 oscillates from the start)")


@pytest.mark.filterwarnings("error")  # a figure warns of nothing (a grid asked for off yet styled would)
def test_overfitting_draws_all_epochs_above_and_the_second_half_below():
    """Ten epochs: the bottom panels from epoch 5; the best (85%, epoch 6) dashed across both accuracy
    panels; the plateau (within 0.5 of the best from epoch 4) dotted where it lies in a panel's epochs."""
    acc = [50.0, 60.0, 70.0, 80.0, 84.5, 84.0, 85.0, 85.0, 84.8, 84.9]
    cost = [3.0, 2.0, 1.5, 1.2, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5]
    fig = figures.draw_overfitting(_overfitting(10, acc, cost))
    assert tuple(fig.get_size_inches()) == (12, 8)
    assert (fig.get_suptitle(), fig._suptitle.get_fontsize()) == (figures._title(_overfitting(10, acc)), 10)
    top_cost, top_acc, cost_half, acc_half = fig.axes
    assert [ax.get_title() for ax in fig.axes] == [
        "Cost on the training data (all epochs, log scale)", "Accuracy (%) on the test data (all epochs)",
        "Cost on the training data (epochs 5-9)", "Accuracy (%) on the test data (epochs 5-9)"]
    assert [ax.get_yscale() for ax in fig.axes] == ["log", "linear", "linear", "linear"]
    assert [ax.get_xlim() for ax in fig.axes] == [(0, 9), (0, 9), (5, 9), (5, 9)]
    for ax, ys, start in ((top_cost, cost, 0), (top_acc, acc, 0), (cost_half, cost, 5), (acc_half, acc, 5)):
        curve = ax.lines[0]
        assert list(curve.get_xdata()) == list(range(start, 10)) and list(curve.get_ydata()) == ys[start:]
        assert curve.get_color() == "#2A6EA6"
        assert ax.get_xlabel() == "Epoch" and _grid(ax) == (True, 0.4)
        assert all(float(t).is_integer() for t in ax.get_xticks())
    assert len(top_cost.lines) == len(cost_half.lines) == 1
    best, stall = top_acc.lines[1:]
    assert (list(best.get_ydata()), best.get_linestyle(), best.get_linewidth(), best.get_color()) == (
        [85.0, 85.0], "--", 0.8, "grey")
    assert (list(stall.get_xdata()), stall.get_linestyle(), stall.get_linewidth(), stall.get_color()) == (
        [4, 4], ":", 0.8, "grey")
    assert [list(line.get_ydata()) for line in acc_half.lines[1:]] == [[85.0, 85.0]]  # epoch 4: not in 5-9
    (note,) = top_acc.texts
    assert note.get_text() == ("best 85.00% (epoch 6), last 84.90%;\n"
                               "within 0.5 points of the best from epoch 4 (dotted)")
    assert (note.get_position(), note.get_transform() == top_acc.transAxes) == ((0.98, 0.04), True)
    assert (note.get_ha(), note.get_va(), note.get_fontsize()) == ("right", "bottom", 9)
    box = note.get_bbox_patch()
    assert (box.get_facecolor(), box.get_edgecolor()) == ((1.0, 1.0, 1.0, 0.8), (0.0, 0.0, 0.0, 0.0))
    assert not top_cost.texts and not cost_half.texts and not acc_half.texts


@pytest.mark.parametrize("epochs, xlims, dotted", [
    (1, [(0, 1), (0, 1)], [[0, 0], [0, 0]]),  # one epoch: each axis still spans one
    (2, [(0, 1), (1, 2)], [[1, 1], [1, 1]]),  # the plateau at epoch 1, the first of the second half
])
def test_overfitting_of_one_or_two_epochs_spans_at_least_one_epoch_per_panel(epochs, xlims, dotted):
    fig = figures.draw_overfitting(_overfitting(epochs, [50.0, 90.0][-epochs:]))
    assert [fig.axes[0].get_xlim(), fig.axes[2].get_xlim()] == xlims
    assert [list(ax.lines[2].get_xdata()) for ax in fig.axes[1::2]] == dotted
    assert all(float(t).is_integer() for ax in fig.axes for t in ax.get_xticks())


@pytest.mark.filterwarnings("error")
def test_learning_rates_draw_each_eta_in_the_books_colours_with_dots():
    nan = float("nan")
    fig_ = figures.get("learning-rates")
    columns = {"epoch": [0, 1, 2], figures.eta_column(0.025): [3.0, 2.5, 2.0],
               figures.eta_column(0.25): [2.0, 1.0, 0.5], figures.eta_column(2.5): [5.0, nan, nan]}
    result = figures.Result(fig_, 3, 1000, 0, columns, 2.0, "cpu", diverged={2.5: 1})
    fig = figures.draw(result)
    assert tuple(fig.get_size_inches()) == (8, 5)
    assert (fig.get_suptitle(), fig._suptitle.get_fontsize()) == (figures._title(result), 9)
    (ax,) = fig.axes
    assert [(line.get_color(), line.get_marker(), line.get_linestyle(), line.get_markersize())
            for line in ax.lines] == [(c, "o", "-", 4) for c in ("#2A6EA6", "#FFCD33", "#FF7033")]
    assert [line.get_label() for line in ax.lines] == [
        "$\\eta$ = 0.025", "$\\eta$ = 0.25", "$\\eta$ = 2.5 (diverged in epoch 1)"]
    assert [list(line.get_xdata()) for line in ax.lines] == [[0, 1, 2]] * 3
    np.testing.assert_array_equal(ax.lines[2].get_ydata(), [5.0, nan, nan])
    assert ax.get_xlim() == (0, 3) and all(float(t).is_integer() for t in ax.get_xticks())
    assert _grid(ax) == (True, 0.4) and ax.get_legend()._loc == 1  # "upper right"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [line.get_label() for line in ax.lines]


def test_a_figure_of_two_rates_is_drawn_as_the_learning_rates_and_of_one_as_overfitting(tmp_path):
    from PIL import Image

    result = figures.Result(TWO_RATES, 2, 10, 0, {"epoch": [0, 1], "training_cost_eta_0.5": [2.0, 1.0],
                                                  "training_cost_eta_4": [3.0, 1.0]}, 1.0, "cpu")
    assert len(figures.draw(result, tmp_path / "rates.png").axes) == 1
    assert len(figures.draw(_overfitting(2, [50.0, 60.0]), tmp_path / "over.png").axes) == 4
    for name, size in (("rates.png", (800, 500)), ("over.png", (1200, 800))):
        with Image.open(tmp_path / name) as im:
            assert (im.format, im.size) == ("PNG", size)

"""Tests for ``dlpy35 figure`` (dlpy35.studies.figures): the book's chapter-3 figures, each in --quick mode.

Each figure trains once per module on the real MNIST (20 epochs; the learning
rates on 2,000 images), through the command as ``dlpy35 figure`` runs it; the
tests read its PNG and CSV.  The learning-rate population is compared with a
``network2`` network trained alone.  Mistakes must be one line and exit 2 before
any data loads.
"""

from __future__ import annotations

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
                                            (45, list(range(0, 45, 2)))])
def test_about_twenty_epochs_and_the_last_are_logged(epochs, logged):
    """Every (epochs // 20)-th epoch from 0, at least every one, and the last."""
    lines = []
    maybe = figures._every(epochs, lines.append)
    for epoch in range(epochs):
        maybe(epoch, epoch)
    assert lines == logged
    figures._every(epochs, None)(0, "no log: nothing")  # and no error

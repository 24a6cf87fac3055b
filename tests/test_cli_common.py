"""The commands' shared contract: one line and exit 2 for a mistake, 130 for Ctrl-C."""

from __future__ import annotations

import argparse
import warnings

import pytest

from dlpy35.cli import common


def parser():
    p = common.ArgumentParser("Train something.\n\nMore words.", prog="prog")
    p.add_argument("--epochs", type=common.natural_int, default=1)
    p.add_argument("--mini-batch-size", type=common.positive_int, default=10)
    p.add_argument("--eta", type=common.finite_float, default=3.0)
    p.add_argument("--timeout", type=common.positive_float, default=1.0)
    return p


@pytest.mark.parametrize("argv, problem", [
    (["--epochs", "-1"], "argument --epochs: expected an integer >= 0, got -1"),
    (["--epochs", "2.5"], "argument --epochs: expected an integer, got '2.5'"),
    (["--mini-batch-size", "0"], "argument --mini-batch-size: expected an integer >= 1, got 0"),
    (["--eta", "nan"], "argument --eta: expected a finite number, got nan"),
    (["--eta=-inf"], "argument --eta: expected a finite number, got -inf"),
    (["--eta", "word"], "argument --eta: expected a number, got 'word'"),
    (["--timeout", "0"], "argument --timeout: expected a number > 0, got 0"),
    (["--mini-batch", "5"], "unrecognized arguments: --mini-batch 5"),  # no abbreviations
])
def test_a_bad_flag_is_one_line_and_exit_2(argv, problem, capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err == f"prog: error: {problem} (see --help)\n"


def test_good_flags_parse_to_their_types():
    args = parser().parse_args(["--epochs", "0", "--mini-batch-size", "3", "--eta", "0.5", "--timeout", "2"])
    assert (args.epochs, args.mini_batch_size, args.eta, args.timeout) == (0, 3, 0.5, 2.0)


def test_help_keeps_the_description_and_epilog(capsys):
    with pytest.raises(SystemExit) as exc:
        parser().parse_args(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and "Train something." in out and "More words." in out


def test_run_turns_a_keyboard_interrupt_of_main_into_130(capsys):
    def main(argv):
        raise KeyboardInterrupt

    assert common.run(main, "prog", []) == 130
    assert capsys.readouterr().err == "prog: interrupted; nothing was saved\n"


@pytest.mark.parametrize("error, line", [
    (OSError(28, "No space left on device", "runs/a/epochs.csv"),
     "prog: runs/a/epochs.csv: No space left on device; what was written before is kept\n"),
    (PermissionError(13, "Permission denied"), "prog: Permission denied; what was written before is kept\n"),
])
def test_run_turns_a_failure_of_the_system_into_one_line_and_status_1(error, line, capsys):
    """A disk that fills up while a command trains (no check before could foresee it): no traceback."""
    def main(argv):
        raise error

    assert common.run(main, "prog", []) == 1
    assert capsys.readouterr().err == line


def test_run_passes_the_status_through_and_formats_warnings_in_one_line(capsys, monkeypatch):
    monkeypatch.setattr(warnings, "formatwarning", warnings.formatwarning)  # restored after the test
    def main(argv):
        return common.fail("prog", f"a problem with {argv}")

    assert common.run(main, "prog", ["x"]) == 2
    assert capsys.readouterr().err == "prog: a problem with ['x']\n"
    line = warnings.formatwarning("eta may be too large", UserWarning, "trainer.py", 476, "warn(msg)")
    assert line == "warning: eta may be too large\n"


def test_types_raise_argparse_errors():
    with pytest.raises(argparse.ArgumentTypeError):
        common.positive_int("0")


@pytest.mark.parametrize("library, command", [
    ('device="cuda": no GPU; or use device="cpu"', "--device cuda: no GPU; or use --device cpu"),
    ("seeds: '5-2' is an empty range", "--seeds: '5-2' is an empty range"),
    ('ray_address="10.0.0.1:6379": no cluster', "--ray 10.0.0.1:6379: no cluster"),
    ("continue with resume=True or start over with overwrite=True",
     "continue with --resume or start over with --overwrite"),
    ("train float32 with mode='NUMBA'", "train float32 with --mode NUMBA"),
    # other settings, a path holding a setting's name, a setting's name within a word: as they are
    ('runs/device=x: epoch_mode="scan", the device', 'runs/device=x: epoch_mode="scan", the device'),
])
def test_a_librarys_settings_read_as_the_flags_that_give_them(library, command, capsys):
    assert common.in_flags(library) == command
    assert common.fail("prog", ValueError(library)) == 2
    assert capsys.readouterr().err == f"prog: {command}\n"

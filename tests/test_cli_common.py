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


# -- the shared flags: names, defaults, types and choices -----------------------------------------------
TRAINING_DEFAULTS = {"epochs": 30, "mini_batch_size": 10, "n_train": None, "device": "auto", "mode": None,
                     "epoch_mode": "scan", "dtype": "float32", "data_dir": None, "dataset": None,
                     "cost": "quadratic", "init": None, "reg": "l2", "evaluation": "test"}


@pytest.mark.parametrize("grouped", [False, True])
def test_the_training_flags_default_as_the_book_and_parse_to_their_types(grouped, tmp_path):
    from pathlib import Path

    p = common.ArgumentParser(prog="prog")
    common.add_training_flags(p, p.add_argument_group("chapter 3") if grouped else None)
    assert vars(p.parse_args([])) == TRAINING_DEFAULTS
    given = p.parse_args(["--epochs", "0", "--mini-batch-size", "3", "--n-train", "5", "--device", "cpu",
                          "--mode", "JAX", "--epoch-mode", "step", "--dtype", "float64", "--data-dir", "d",
                          "--dataset", "s", "--cost", "cross-entropy", "--init", "default", "--reg", "l1",
                          "--evaluation", "validation"])
    assert vars(given) == {"epochs": 0, "mini_batch_size": 3, "n_train": 5, "device": "cpu", "mode": "JAX",
                           "epoch_mode": "step", "dtype": "float64", "data_dir": Path("d"),
                           "dataset": Path("s"), "cost": "cross-entropy", "init": "default", "reg": "l1",
                           "evaluation": "validation"}
    assert all(action.help for action in p._actions)  # every flag says what it is in --help


@pytest.mark.parametrize("argv, problem", [
    (["--epochs", "-1"], "argument --epochs: expected an integer >= 0, got -1"),
    (["--mini-batch-size", "0"], "argument --mini-batch-size: expected an integer >= 1, got 0"),
    (["--n-train", "0"], "argument --n-train: expected an integer >= 1, got 0"),
    (["--device", "gpu"], "argument --device: invalid choice: 'gpu' (choose from auto, cuda, cpu)"),
    (["--epoch-mode", "loop"], "argument --epoch-mode: invalid choice: 'loop' (choose from scan, step)"),
    (["--dtype", "float16"], "argument --dtype: invalid choice: 'float16' (choose from float32, float64)"),
    (["--cost", "hinge"], "argument --cost: invalid choice: 'hinge' (choose from quadratic, cross-entropy)"),
    (["--init", "zeros"], "argument --init: invalid choice: 'zeros' (choose from large, default)"),
    (["--reg", "l3"], "argument --reg: invalid choice: 'l3' (choose from l2, l1)"),
    (["--evaluation", "train"],
     "argument --evaluation: invalid choice: 'train' (choose from test, validation)"),
])
def test_a_bad_training_flag_is_refused_in_one_line(argv, problem, capsys):
    p = common.ArgumentParser(prog="prog")
    common.add_training_flags(p)
    with pytest.raises(SystemExit):
        p.parse_args(argv)
    # without quotes: Python 3.12.8 and later quote each choice, earlier releases none
    want = f"prog: error: {problem} (see --help)\n"
    assert capsys.readouterr().err.replace("'", "") == want.replace("'", "")


def test_the_output_order_quiet_overwrite_and_tensorboard_flags(capsys):
    from pathlib import Path

    p = common.ArgumentParser(prog="train")
    common.add_output_flags(p, "network.npz")
    common.add_order_flag(p)
    common.add_tensorboard_flag(p)
    common.add_overwrite_flag(p, "the plot")
    common.add_data_flags(p, dataset=False)
    assert vars(p.parse_args([])) == {"save": None, "run_dir": None, "no_save": False, "quiet": False,
                                      "order": "own", "tensorboard": None, "overwrite": False,
                                      "data_dir": None}
    given = p.parse_args(["--save", "n.npz", "--run-dir", "r", "--no-save", "--no-progress", "--order",
                          "shared", "--tensorboard", "tb", "--overwrite", "--data-dir", "d"])
    assert vars(given) == {"save": Path("n.npz"), "run_dir": Path("r"), "no_save": True, "quiet": True,
                           "order": "shared", "tensorboard": Path("tb"), "overwrite": True,
                           "data_dir": Path("d")}
    assert p.parse_args(["--quiet"]).quiet is True
    assert p.parse_args(["--order", "own"]).order == "own"
    assert common.positive_float("0.5") == 0.5  # a timeout under a second
    with pytest.raises(SystemExit):
        p.parse_args(["--dataset", "s"])  # not taken without dataset=True
    with pytest.raises(SystemExit):
        p.parse_args(["--order", "mine"])
    help_text = p.format_help()
    assert "replace the plot (refused otherwise)" in help_text
    assert "save the trained network (npz;" in " ".join(help_text.split())
    assert all(action.help for action in p._actions)
    capsys.readouterr()


@pytest.mark.parametrize("given, sizes", [(None, [16, 30, 3]), ([16, 8, 3], [16, 8, 3]),
                                         ((16, 3), [16, 3])])
def test_network_sizes_default_to_the_data_and_keep_what_fits_it(given, sizes):
    from types import SimpleNamespace

    data = SimpleNamespace(n_in=16, n_classes=3, name="tiny")
    assert common.network_sizes(given, data) == sizes


@pytest.mark.parametrize("given, fixed", [([784, 30, 10], "16 30 3"), ([16, 30, 10], "16 30 3"),
                                          ([784, 3], "16 3")])
def test_network_sizes_that_do_not_fit_the_data_name_the_sizes_that_would(given, fixed):
    from types import SimpleNamespace

    data = SimpleNamespace(n_in=16, n_classes=3, name="tiny")
    with pytest.raises(ValueError) as exc:
        common.network_sizes(given, data)
    shown = " ".join(map(str, given))
    assert str(exc.value) == f"--sizes {shown}: tiny has 16-pixel images and 3 classes; give --sizes {fixed}"


@pytest.mark.parametrize("init, cost, chosen", [("large", "cross-entropy", "large"),
                                                 ("default", "quadratic", "default"),
                                                 (None, "quadratic", "large"),
                                                 (None, "cross-entropy", "default")])
def test_the_weight_init_is_the_flag_or_the_books_choice_for_the_cost(init, cost, chosen):
    assert common.weight_init(argparse.Namespace(init=init, cost=cost)) == chosen


@pytest.mark.parametrize("epochs, where", [
    (None, "no checkpoint was written in {d}"),
    (3, "the checkpoint in {d} holds 3 completed epochs; run the same command with --resume to continue"),
    (1, "the checkpoint in {d} holds 1 completed epoch; run the same command with --resume to continue"),
])
def test_the_interrupted_line_says_what_the_checkpoint_directory_holds(epochs, where, monkeypatch):
    from dlpy35.storage import checkpoint

    asked = []
    monkeypatch.setattr(checkpoint, "completed_epochs", lambda directory: asked.append(directory) or epochs)
    assert common.interrupted_line("train", "interrupted in epoch 4", "ck") == \
        f"train: interrupted in epoch 4; {where.format(d='ck')}"
    assert common.interrupted_line("train", "interrupted", None) == \
        "train: interrupted; no network saved (use --checkpoint-dir to keep progress)"
    assert asked == ["ck"]  # the directory given, and no other


# -- the outputs a command's flags name, checked before any work -------------------------------------------
def _args(tmp_path, **given):
    """A command's parsed flags: nothing given but what `given` says; MNIST's directory is tmp_path/data."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "train.idx").write_text("images")
    flags = {"save": None, "run_dir": None, "no_save": False, "plot": None, "history": None,
             "tensorboard": None, "overwrite": False, "resume": None, "checkpoint_dir": None,
             "data_dir": tmp_path / "data", "dataset": None}
    return argparse.Namespace(**{**flags, **given})


@pytest.mark.parametrize("given, refusal", [
    ({"no_save": True, "save": "n.npz"}, "--no-save keeps nothing, --save and --run-dir keep the network: "
                                         "give one of them"),
    ({"no_save": True, "run_dir": "r"}, "--no-save keeps nothing"),
    ({"save": "old.npz"}, "--save {t}/old.npz: a file is already there; give --overwrite to replace it, or "
                          "another name"),
    ({"plot": "old.npz"}, "--plot {t}/old.npz: a file is already there"),
    ({"history": "old.npz"}, "--history {t}/old.npz: a file is already there"),
    ({"save": "data/train.idx", "overwrite": True},
     "--save {t}/data/train.idx: is in --data-dir {t}/data, which this command reads; give another name"),
    ({"save": "set/x.npz", "dataset": "set"}, "--save {t}/set/x.npz: is in --dataset {t}/set, which this "
                                              "command reads"),
    ({"save": "ck/checkpoint.npz", "checkpoint_dir": "ck", "overwrite": True},
     "--save {t}/ck/checkpoint.npz: is the checkpoint of --checkpoint-dir: {t}/ck/checkpoint.npz, which"),
    ({"run_dir": "run"},
     "--run-dir {t}/run holds another run (args.json); give --overwrite to replace it, or another directory"),
    ({"run_dir": "run", "resume": "ck"}, None),  # --resume continues the run that wrote it
    ({"save": "old.npz", "resume": "ck"}, None),
    ({"save": "old.npz", "overwrite": True}, None),
])
def test_check_outputs_refuses_what_the_policy_refuses_before_any_work(given, refusal, tmp_path):
    (tmp_path / "old.npz").write_text("the user's")
    (tmp_path / "set").mkdir()
    (tmp_path / "ck").mkdir()
    (tmp_path / "ck" / "checkpoint.npz").write_text("a checkpoint")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "args.json").write_text("{}")
    named = ("save", "plot", "history", "run_dir", "dataset", "checkpoint_dir")  # paths under tmp_path
    paths = {k: tmp_path / v if k in named else v for k, v in given.items()}
    args = _args(tmp_path, **paths)
    if refusal is None:
        common.check_outputs(args, "network.npz")
        return
    with pytest.raises(ValueError) as exc:
        common.check_outputs(args, "network.npz")
    assert str(exc.value).startswith(refusal.format(t=tmp_path)), str(exc.value)


def test_check_outputs_keeps_a_training_run_in_a_new_directory_unless_told_where(tmp_path, monkeypatch):
    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "runs"))
    args = _args(tmp_path)
    common.check_outputs(args, "network.npz", command="train")
    assert args.run.fresh and args.run.path.parent == tmp_path / "runs"
    assert args.run.path.name.startswith("train-") and args.run.network.name == "network.npz"
    assert not args.run.path.exists()  # made when training starts
    for given in ({"save": tmp_path / "n.npz"}, {"no_save": True}):
        args = _args(tmp_path, **given)
        common.check_outputs(args, "network.npz", command="train")
        assert not args.run
    args = _args(tmp_path)
    common.check_outputs(args, "network.npz")  # not a training command: nothing kept by default
    assert not args.run
    args = _args(tmp_path, run_dir=tmp_path / "mine")
    outputs = common.check_outputs(args, "network.npz", command="train")
    assert not args.run.fresh and args.run.path == tmp_path / "mine"
    assert args.run.network.name == "network.npz"
    with pytest.raises(ValueError, match="and --run-dir .* are the same file"):  # claimed by the run already
        outputs.file(tmp_path / "mine" / "network.npz", "--save")


def test_check_outputs_needs_matplotlib_for_a_plot(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ValueError, match=r"^--plot needs matplotlib: pip install 'dlpy35\[plot\]'$"):
        common.check_outputs(_args(tmp_path, plot=tmp_path / "p.png"))
    assert common.tensorboard_callbacks(_args(tmp_path)) == []
    assert common.tensorboard_callbacks(argparse.Namespace()) == []


def test_the_data_a_command_reads_are_its_inputs(tmp_path, monkeypatch):
    from dlpy35.data import DATA_ENV

    monkeypatch.setenv(DATA_ENV, str(tmp_path / "mnist"))
    (tmp_path / "mnist").mkdir()
    (tmp_path / "set").mkdir()
    args = argparse.Namespace(data_dir=None, dataset=tmp_path / "set")
    assert common.data_inputs(args) == [(f"in --data-dir {tmp_path / 'mnist'}", tmp_path / "mnist"),
                                        (f"in --dataset {tmp_path / 'set'}", tmp_path / "set")]
    assert common.data_inputs(argparse.Namespace(data_dir=tmp_path / "set")) == [
        (f"in --data-dir {tmp_path / 'set'}", tmp_path / "set")]  # no --dataset flag at all


def test_the_run_directory_kept_by_default_is_made_and_named(tmp_path, monkeypatch, capsys):
    from dlpy35.cli import signals

    monkeypatch.setenv("DLPY35_RUNS", str(tmp_path / "runs"))
    args = _args(tmp_path)
    common.check_outputs(args, "network.npz", command="train")
    common.make_run_dir(args)
    assert args.run.path.is_dir() and args.run.path.parent == tmp_path / "runs"
    said = f"run directory: {args.run.path} (kept by default; --no-save keeps nothing)\n"
    assert capsys.readouterr().out == said
    common.make_run_dir(argparse.Namespace(run=None))
    assert capsys.readouterr().out == ""
    taken = []
    monkeypatch.setattr(signals, "take", taken.append)
    common.exit_on_interrupt("prog")
    assert taken == ["prog"]


def test_check_outputs_of_a_command_without_a_run_directory(tmp_path):
    """evaluate has --plot but no --run-dir: its flags lack run_dir, save and no_save altogether."""
    args = argparse.Namespace(plot=tmp_path / "p.png", data_dir=tmp_path / "mnist", dataset=None)
    common.check_outputs(args)
    assert args.run is None


def test_run_ends_quietly_when_the_reader_of_stdout_goes_away(monkeypatch, tmp_path):
    """``dlpy35 evaluate MODEL | head -1``: status 1, and stdout goes to the null device so that the
    flush at exit raises nothing more."""
    import os
    import sys

    def main(argv):
        raise BrokenPipeError

    with open(tmp_path / "stdout", "w") as out:  # stands for the pipe; the real stdout is left alone
        monkeypatch.setattr(sys, "stdout", out)
        assert common.run(main, "prog", []) == 1
        assert os.path.samestat(os.fstat(out.fileno()), os.stat(os.devnull))


@pytest.mark.parametrize("overwrite", [False, True])
def test_the_tensorboard_callback_writes_into_the_directory_given_replacing_only_with_overwrite(overwrite,
                                                                                               tmp_path):
    from dlpy35.storage.tensorboard import TensorBoard

    args = _args(tmp_path, tensorboard=tmp_path / "tb", overwrite=overwrite)
    (callback,) = common.tensorboard_callbacks(args)
    assert isinstance(callback, TensorBoard)
    assert (callback.scalars.directory, callback.scalars.replace) == (tmp_path / "tb", overwrite)
    assert common.tensorboard_callbacks(_args(tmp_path)) == []
    assert common.tensorboard_callbacks(argparse.Namespace()) == []  # a command without --tensorboard


def test_a_tensorboard_directory_holding_a_runs_events_is_refused_unless_overwrite(tmp_path):
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "events.out.tfevents.1.host").write_bytes(b"")
    with pytest.raises(ValueError, match=r"^--tensorboard .*tb holds another run .*give --overwrite"):
        common.check_outputs(_args(tmp_path, tensorboard=tmp_path / "tb"))
    common.check_outputs(_args(tmp_path, tensorboard=tmp_path / "tb", overwrite=True))


def test_a_run_directory_refused_names_resume_where_the_command_can_continue_it(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "args.json").write_text("{}")
    with pytest.raises(ValueError, match="--resume"):
        common.check_outputs(_args(tmp_path, run_dir=tmp_path / "run", resume=False), "network.npz")


def test_a_command_without_the_overwrite_or_plot_flags_replaces_nothing(tmp_path):
    (tmp_path / "old.npz").write_text("the user's")
    args = argparse.Namespace(save=tmp_path / "old.npz", data_dir=None, dataset=None)
    with pytest.raises(ValueError, match="a file is already there"):
        common.check_outputs(args, "network.npz")


def test_run_names_the_program_as_it_was_called_when_not_told(capsys, monkeypatch):
    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(common.sys, "argv", ["/opt/bin/dlpy35-train"])
    assert common.run(interrupted) == 130
    assert capsys.readouterr().err.startswith("dlpy35-train: ")


def test_a_librarys_quoted_value_keeps_its_letters_in_the_flags_words():
    assert common.in_flags("""device='XcudaX' is not there""") == "--device XcudaX is not there"


def test_the_tensorboard_callback_of_a_command_without_overwrite_replaces_nothing(tmp_path):
    (callback,) = common.tensorboard_callbacks(argparse.Namespace(tensorboard=tmp_path / "tb"))
    assert callback.scalars.replace is False


def test_a_run_directory_given_is_named_by_its_flag_in_what_it_says(tmp_path):
    args = _args(tmp_path, run_dir=tmp_path / "mine")
    common.check_outputs(args, "network.npz")
    assert args.run.what == "--run-dir"


def test_the_run_directory_kept_by_default_goes_on_past_one_of_the_same_name(tmp_path, monkeypatch):
    """Two runs started in the same second: the second's directory is taken, and no refusal (make() takes
    the next free name)."""
    from dlpy35.storage import rundir

    taken = tmp_path / "runs" / "train-20261205-040000"
    taken.mkdir(parents=True)
    (taken / "args.json").write_text("{}")
    monkeypatch.setattr(rundir, "default_path", lambda command: taken)
    args = _args(tmp_path)
    common.check_outputs(args, "network.npz", command="train")
    assert args.run.fresh and args.run.path == taken


def test_a_docstring_s_first_paragraph_is_the_description_and_all_the_others_the_epilog():
    p = common.ArgumentParser("Summary.\n\nFirst.\n\nSecond.")
    assert (p.description, p.epilog) == ("Summary.", "First.\n\nSecond.")
    one = common.ArgumentParser("Only.")
    assert (one.description, one.epilog) == ("Only.", None)


def test_check_outputs_of_a_command_without_a_plot_flag(tmp_path):
    common.check_outputs(argparse.Namespace(save=tmp_path / "new.npz", data_dir=None, dataset=None))

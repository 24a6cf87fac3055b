"""dlpy35's public API: every advertised name resolves, lazily."""

import doctest
import subprocess
import sys

import pytest

import dlpy35


@pytest.mark.parametrize("name", dlpy35.__all__)
def test_public_names_resolve(name):
    assert getattr(dlpy35, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = dlpy35.nope


def test_running_a_module_does_not_import_it_twice():
    """``python -m dlpy35.cli.gradcheck --help`` must not warn that the module was already imported."""
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "dlpy35.cli.gradcheck",
                          "--help"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "found in sys.modules" not in out.stderr


def test_importing_dlpy35_imports_nothing_heavy():
    """``import dlpy35`` in a notebook costs nothing until a name is used."""
    code = ("import sys, dlpy35; "
            "print([m for m in ('numpy', 'pytensor', 'jax', 'matplotlib') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_notebook_snippet_runs_as_written(mnist_dir, tmp_path, monkeypatch):
    """The package docstring's session, run as doctest runs it: MNIST, train, score, predict, plot, save,
    load, an image file."""
    monkeypatch.chdir(tmp_path)  # the snippet saves ch3.json and seven.png where it runs
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    (test,) = [t for t in doctest.DocTestFinder(recurse=False).find(dlpy35) if t.examples]
    result = runner.run(test, out=lambda text: pytest.fail(text, pytrace=False))
    assert result.failed == 0 and result.attempted >= 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ch3.json", "seven.png"]

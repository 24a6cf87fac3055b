"""dlpy35's public API: every advertised name resolves, lazily."""

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

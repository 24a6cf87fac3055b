"""``python -m dlpy35``: the ``dlpy35`` command (:mod:`dlpy35.cli.main`)."""

from dlpy35.cli.common import exit_on_interrupt

exit_on_interrupt("dlpy35")  # before the heavy imports

from dlpy35.cli.main import entry  # noqa: E402

if __name__ == "__main__":
    entry()

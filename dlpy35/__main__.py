"""``python -m dlpy35``: the ``dlpy35`` command (:mod:`dlpy35.cli`)."""

from dlpy35.cli import entry

if __name__ == "__main__":
    entry()

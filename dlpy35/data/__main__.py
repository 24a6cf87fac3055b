"""``python -m dlpy35.data``: fetch the four MNIST files that are missing and verify all four.

The command line itself is :func:`dlpy35.data.fetch.main`; this module only runs it, so
that the package is imported once.
"""

import sys

from dlpy35.data.fetch import main

if __name__ == "__main__":
    sys.exit(main())

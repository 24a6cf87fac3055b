"""The ``dlpy35`` command: ``main`` puts the subcommands together, one module each.

``common`` holds what every command shares (one-line errors with exit status 2, the
argument types, the output checks, Ctrl-C as 130) and ``progress`` the epoch bar.  Each
subcommand's module has a docstring (its ``--help`` text), ``configure(p)`` adding its
flags to a parser, and ``execute(p, args)`` returning the exit status.  A command parses
its arguments, calls the library and reports; the library never names a flag.
"""

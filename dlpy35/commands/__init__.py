"""The ``dlpy35`` command's subcommands, one module each (``dlpy35.cli`` puts them together).

Each module has a docstring (its ``--help`` text), ``configure(p)`` adding its flags
to a parser, and ``execute(p, args)`` returning the exit status: 0, 2 for a user's
mistake (one line, before any training), 130 for Ctrl-C.

Modules
-------
train
    Chapters 1 and 3: ``network``/``network2`` networks (also ``scripts/train_gpu.py``).
train_conv
    Chapter 6: ``network3``'s convolutional networks and ensembles (also ``scripts/train_conv.py``).
evaluate
    A saved network's accuracy and confusion matrix.
predict
    A saved network's digit for image files of one's own.
export
    A saved network as ONNX or as a web page.
figure
    The book's chapter-3 figures: overfitting, regularization, learning rates (``dlpy35.figures``).
sweep
    Every combination of seeds, etas and lambdas, as populations (``dlpy35.sweep``).
models
    Reading a saved network of any kind, for the three above.
"""

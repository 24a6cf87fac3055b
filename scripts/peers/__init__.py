"""Peer implementations of the book's chapter-1 training for ``scripts/bench.py``.

Every peer trains the same sigmoid network (quadratic cost, mini-batch SGD) from
the same initial weights over the same per-epoch permutations, and returns a
result dict (see :func:`scripts.bench.result`): ``epoch_seconds`` (one entry per
epoch, training only), ``compile_seconds`` (the warm-up or compile before it),
``correct`` / ``n_test`` (test accuracy after the last epoch) and ``note``.

``torch_peer`` is standalone (numpy and torch only) so that it can run in
another interpreter; ``numpy_peer`` and ``jax_peer`` run in the bench's process.
"""

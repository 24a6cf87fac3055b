"""The implementations dlpy35 is measured against.

Chapter 1 (:mod:`bench.mlp`): every peer trains the same sigmoid network
(quadratic cost, mini-batch SGD) from the same initial weights over the same
per-epoch permutations and returns a :func:`bench.peers.base.result` row.
``numpy_peer`` and ``jax_peer`` run in the benchmark's process; ``torch_peer``
needs only numpy and torch, so that it can run in another interpreter.

Chapter 6 (:mod:`bench.conv`): ``conv_peers`` trains the conv nets with dlpy35
and PyTorch, each in its own one-thread subprocess.
"""

"""Where a trainer's order comes from: the shuffles of every epoch and the dropout keys.

The one difference between one network, a population of K own orders and a
population of one shared order is here.  An order draws from its generators
exactly as the book's networks draw: a permutation per epoch, then a key per
mini-batch when the model needs noise.

* :class:`OneOrder` -- one generator: one network, or every network of a shared-order
  population (they all follow network 0's draws; the rows carry no network axis).
* :class:`OwnOrders` -- K generators, network k's draws from its own: the rows carry a
  leading network axis, so network k sees what it sees alone.
"""

from __future__ import annotations

import numpy as np

KEY_LIMIT = 1 << 30  # keys fit int32 with room to add a layer's salt (JAX without x64 indexes in int32)


class OneOrder:
    """The order of one generator.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws every epoch's permutation, then its dropout keys; its state is checkpointed.
    """

    shape = ()  # a mini-batch's rows carry no network axis

    def __init__(self, rng):
        self.rng = rng

    def identity(self, n):
        """The `n` training rows in their order, shaped as :meth:`permutation`'s result."""
        return np.arange(n)

    def permutation(self, n):
        """This epoch's shuffle of the `n` training rows."""
        return self.rng.permutation(n)

    def rows(self, perm, start, stop, m):
        """Mini-batches of `m` rows from ``perm[start:stop]``: ``(count, *shape, m)``."""
        return perm[start:stop].reshape(-1, m)

    def keys(self, count):
        """A random dropout key for each of `count` mini-batches: ``(count, *shape)``."""
        return self.rng.integers(0, KEY_LIMIT, count)

    @property
    def state(self):
        """The generator's state, JSON-ready (a checkpoint keeps it)."""
        return self.rng.bit_generator.state

    @state.setter
    def state(self, value):
        self.rng.bit_generator.state = value


class OwnOrders:
    """K orders, network k's drawn from ``rngs[k]`` as network k alone draws them.

    Parameters
    ----------
    rngs : list of numpy.random.Generator
    """

    def __init__(self, rngs):
        self.rngs = list(rngs)
        self.shape = (len(self.rngs),)  # a mini-batch's rows carry the network axis

    def identity(self, n):
        return np.tile(np.arange(n), (len(self.rngs), 1))

    def permutation(self, n):
        return np.stack([rng.permutation(n) for rng in self.rngs])

    def rows(self, perm, start, stop, m):
        return perm[:, start:stop].reshape(len(self.rngs), -1, m).swapaxes(0, 1)

    def keys(self, count):
        return np.stack([rng.integers(0, KEY_LIMIT, count) for rng in self.rngs], axis=1)

    @property
    def state(self):
        return [rng.bit_generator.state for rng in self.rngs]

    @state.setter
    def state(self, value):
        for rng, s in zip(self.rngs, value):
            rng.bit_generator.state = s


"""Three-way gradient check: ``pytensor.grad`` vs hand-written BP1-BP4 vs finite differences.

All in float64, for the quadratic and the cross-entropy cost.  The error between
two gradients ``g1``, ``g2`` of one parameter array is the relative norm
``||g1 - g2|| / max(||g1||, ||g2||)``; a check reports the largest over the
network's parameters.  Finite differences are central,
``(C(p + h) - C(p - h)) / 2h``, over every entry of small networks and over a
seeded random sample of entries of large ones (each sampled entry is compared).

``dlpy35 gradcheck`` (:mod:`dlpy35.cli.gradcheck`) runs the check on several shapes and
exits 1 when an error is above tolerance.
"""

from __future__ import annotations

import numpy as np

from dlpy35.engine import backprop as bp
from dlpy35.engine.costs import QuadraticCost

SYMBOLIC_VS_HAND_TOL = 1e-8
FD_TOL = 1e-5
SHAPES = ([2, 3, 1], [784, 30, 10], [784, 30, 20, 10])


def relative_error(a, b) -> float:
    """``||a - b|| / max(||a||, ||b||)`` (0 when both are zero)."""
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - b) / scale)


def max_relative_error(grads_a, grads_b) -> float:
    """Largest :func:`relative_error` over matching lists of arrays."""
    return max(relative_error(a, b) for a, b in zip(grads_a, grads_b))


def finite_difference(weights, biases, x, y, h=1e-6, max_entries=None, rng=None, cost=QuadraticCost):
    """Central-difference gradients of `cost` summed over the columns of `x`.

    Parameters
    ----------
    max_entries : int, optional
        Per parameter array, probe at most this many entries (chosen by `rng`);
        the others are NaN in the result.

    Returns
    -------
    nabla_b, nabla_w, probed
        Gradients in the book's shapes, and per array (biases first) the flat
        indices that were probed.
    """
    weights = [np.array(w, np.float64) for w in weights]
    biases = [np.array(b, np.float64) for b in biases]
    rng = rng or np.random.default_rng(0)

    def value():
        zs, acts = bp.forward(weights, biases, x)
        return cost.fn(acts[-1], y, zs[-1])

    grads, probed = [], []
    for p in (*biases, *weights):
        g = np.full(p.size, np.nan)
        flat = p.reshape(-1)  # a view: perturbing it perturbs the network
        idx = np.arange(p.size)
        if max_entries is not None and p.size > max_entries:
            idx = np.sort(rng.choice(p.size, max_entries, replace=False))
        for i in idx:
            old = flat[i]
            flat[i] = old + h
            up = value()
            flat[i] = old - h
            down = value()
            flat[i] = old
            g[i] = (up - down) / (2 * h)
        grads.append(g.reshape(p.shape))
        probed.append(idx)
    n = len(biases)
    return grads[:n], grads[n:], probed


def check(net, x, y, max_entries=None, seed=0):
    """Compare the three gradients of `net` on columns `x`, targets `y`.

    Returns
    -------
    dict
        ``symbolic_vs_hand``, ``symbolic_vs_fd``, ``hand_vs_fd``: max relative errors
        (the finite-difference ones over the probed entries only).
    """
    sym_b, sym_w = net.symbolic_gradients(x, y)
    hand_b, hand_w = net.backprop(x, y)
    fd_b, fd_w, probed = finite_difference(net.weights, net.biases, x, y, max_entries=max_entries,
                                           rng=np.random.default_rng(seed), cost=net.cost)

    def at_probes(grads):
        return [g.reshape(-1)[i] for g, i in zip(grads, probed)]

    fd = at_probes([*fd_b, *fd_w])
    return {
        "symbolic_vs_hand": max_relative_error([*sym_b, *sym_w], [*hand_b, *hand_w]),
        "symbolic_vs_fd": max_relative_error(at_probes([*sym_b, *sym_w]), fd),
        "hand_vs_fd": max_relative_error(at_probes([*hand_b, *hand_w]), fd),
    }


def random_problem(sizes, batch, seed, cost=QuadraticCost):
    """A float64 network with `cost` and a random batch of columns for it (targets in [0, 1))."""
    from dlpy35.network import Network

    net = Network(sizes, seed=seed, dtype="float64", device="cpu", cost=cost)
    rng = np.random.default_rng(seed + 1)
    # Small weights keep the sigmoids away from saturation, where gradients vanish.
    net.weights = [w / np.sqrt(w.shape[1]) for w in net.weights]
    x = rng.random((sizes[0], batch))
    y = rng.random((sizes[-1], batch))
    return net, x, y

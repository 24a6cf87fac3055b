"""Labelled sets evaluated on the device: their padded chunks and the graph that scores them.

A set lives on the device as ``(chunks, rows, n_in)`` with its labels, padded
with the label -1 so that every chunk has one shape (JAX compiles per shape);
one compiled function, scanning over the chunks, gives the correct count, the
summed cost and how many rows got the network's most common answer.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from dlpy35.engine.graph import one_hot


def padded_chunks(x, labels, chunk, dtype):
    """``(xs (k, b, n_in), ys (k, b), chunk indices (k,))`` of the rows `x` with `labels`, in chunks
    of ``b = min(chunk or n, n)`` rows; the last chunk padded with zero rows labelled -1."""
    b = min(chunk or len(x), len(x))
    k = -(-len(x) // b)
    xp = np.zeros((k * b, x.shape[1]), dtype)
    xp[: len(x)] = x
    yp = np.full(k * b, -1, np.int64)
    yp[: len(labels)] = labels
    return xp.reshape(k, b, -1), yp.reshape(k, b), np.arange(k)


def set_metrics(example_metrics, n_out, dtype):
    """``(inputs, outputs)`` of the graph scoring a set of :func:`padded_chunks`.

    `example_metrics(x, labels)` gives, per row (rows last), the network's answer
    and its cost; the outputs are ``(correct, summed cost, most common answer's
    count)``, each with the leading shape of those figures (one per network in
    a population).  The set is an input, not a shared variable: one compiled
    function serves every set.
    """
    xs = pt.tensor3("xs", dtype=dtype)
    ys = pt.matrix("ys", dtype="int64")
    idx = pt.vector("chunks", dtype="int64")

    def chunk(i):
        labels = ys[i]
        guesses, cost = example_metrics(xs[i], labels)
        valid = pt.ge(labels, 0)  # padding rows carry the label -1
        answers = one_hot(guesses, n_out, "int64") * valid[:, None]
        return (pt.sum(pt.and_(pt.eq(guesses, labels), valid), axis=-1, dtype="int64"),
                pt.sum(cost * valid, axis=-1), pt.sum(answers, axis=-2))

    # One sequence only: with two, scan trims them to a common length, which JAX can't trace.
    counts, costs, answers = pytensor.scan(chunk, sequences=[idx], return_updates=False)
    return [xs, ys, idx], [pt.sum(counts, axis=0), pt.sum(costs, axis=0),
                           pt.max(pt.sum(answers, axis=0), axis=-1)]

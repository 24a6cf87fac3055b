"""Ensembles: the plurality vote of several trained networks (chapter 6's five-net vote)."""

from __future__ import annotations

import numpy as np


def ensemble_predict(nets, x):
    """Plurality vote of ``net.predict(x)`` over `nets`; ties go to the lowest label.

    Any objects with a ``predict(x) -> labels`` method can vote.
    """
    if not nets:
        raise ValueError("ensemble_predict: give at least one network")
    return plurality(np.stack([np.asarray(net.predict(x), dtype=np.int64) for net in nets]))


def plurality(votes):
    """Per column of `votes` (n_nets, n), the label given most often; ties go to the lowest label."""
    counts = np.zeros((votes.shape[1], int(votes.max()) + 1), np.int64)
    for v in votes:
        counts[np.arange(votes.shape[1]), v] += 1
    return np.argmax(counts, axis=1)  # argmax takes the first (lowest) label among equal counts


def ensemble_accuracy(nets, data):
    """Fraction of `data` ((X, labels)) the plurality vote of `nets` classifies correctly."""
    x, y = data
    return float(np.mean(ensemble_predict(nets, np.asarray(x)) == np.asarray(y)))

"""What a trained network says about new inputs, under scikit-learn's names: labels, probabilities, accuracy.

:class:`Predictor` gives the book's networks (:class:`dlpy35.network.Network`,
:class:`dlpy35.network2.Network`, :class:`dlpy35.network3.Network`) the same four methods beside the
book's own: ``predict``, ``predict_proba``, ``score`` and ``predict_files``.  Each kind says only how its
output activations become probabilities (:meth:`Predictor._probabilities`); everything else -- the
checks of the inputs, the forward pass, the labels -- is here, once.

Inputs ``X`` are examples in rows, values in [0, 1] as the book's loader gives them: an array (n, 784),
or (n, 28, 28) images, or the book's (n, 784, 1) columns; or image files (paths), each prepared as
MNIST's digits were by :mod:`dlpy35.data.digit_images`, the preparation ``dlpy35 predict`` uses.
Targets ``y`` are integer labels (n,) or the book's one-hot rows (n, 10) or columns (n, 10, 1).
A wrong shape, a value outside [0, 1] or a label out of range is a ValueError of one line that names it.
"""

from __future__ import annotations

import os

import numpy as np

from dlpy35.engine import arguments

__all__ = ["Predictor", "normalised_rows"]


class Predictor:
    """``predict``, ``predict_proba``, ``score`` and ``predict_files`` for a network with a ``trainer``.

    A network mixing this in provides ``trainer`` (its :class:`dlpy35.engine.trainer.Trainer`),
    ``dtype``, ``n_in`` and ``n_out``, and :meth:`_probabilities`.
    """

    def _probabilities(self, outputs):
        """The probabilities (n, n_out) that the output activations `outputs` stand for."""
        raise NotImplementedError

    def outputs(self, X, what="input"):  # noqa: N803 (scikit-learn's name)
        """The output layer's activations (n, n_out) for the examples `X`.

        `what` names `X` in errors.
        """
        return self.trainer.forward(self._rows(X, what))

    def predict(self, X):  # noqa: N803
        """The label (an int64 array (n,)) of each example of `X`: its most active output neuron, as
        ``evaluate`` and ``accuracy`` count it."""
        return np.argmax(self.outputs(X, "predict input"), axis=1).astype(np.int64)

    def predict_proba(self, X):  # noqa: N803
        """Each example's probability of each label, rows (n, n_out) summing to 1.

        The softmax outputs for :class:`dlpy35.network3.Network`; for the sigmoid networks of chapters 1
        and 3, the output activations divided by their sum (:func:`normalised_rows`).  Those are not
        calibrated probabilities -- the book trains each output neuron on its own -- but they rank the
        labels as the network does, and their largest is the label ``predict`` gives.
        """
        return self._probabilities(self.outputs(X, "predict_proba input"))

    def score(self, X, y):  # noqa: N803
        """The fraction of the examples `X` whose label `y` the network predicts (the accuracy), a float.

        `y`: integer labels (n,), or the book's one-hot rows (n, n_out) or columns (n, n_out, 1).
        """
        predicted = self.predict(X)
        return float(np.mean(predicted == arguments.target_labels(y, len(predicted), self.n_out, "score y")))

    def predict_files(self, paths):
        """The label of the digit in each image file of `paths` (one path or several), prepared as MNIST's
        digits were (:func:`dlpy35.data.digit_images.prepare_file`)."""
        if not _are_paths(paths):
            raise ValueError(f"predict_files: give image files (paths), got {type(paths).__name__}")
        return self.predict(paths)

    def check_digit_images(self, what="image files"):
        """ValueError unless the network takes the 28 x 28 images that image files are prepared as."""
        from dlpy35.data.digit_images import SIDE

        if self.n_in != SIDE * SIDE:
            raise ValueError(f"{what}: this network does not take {SIDE}x{SIDE} images, which image files "
                             f"are prepared as; its input layer has {self.n_in} neurons")

    def _rows(self, X, what):  # noqa: N803
        """`X` as checked rows (n, n_in): image files prepared as digits, arrays flattened per example."""
        if _are_paths(X):
            from dlpy35.data.digit_images import prepare_files

            self.check_digit_images(what)
            X = prepare_files([X] if isinstance(X, (str, os.PathLike)) else X)  # noqa: N806
        return arguments.example_rows(X, self.n_in, self.dtype, what)


def normalised_rows(outputs):
    """`outputs` (n, k) of non-negative activations divided by each row's sum; a row of zeros (every
    sigmoid underflowed) becomes uniform."""
    outputs = np.asarray(outputs)
    total = outputs.sum(axis=1, keepdims=True)
    uniform = np.full_like(outputs, 1.0 / outputs.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):  # the zero rows, replaced just below
        return np.where(total > 0, outputs / total, uniform)


def _are_paths(X):  # noqa: N803
    """Whether `X` names image files: one path, or a non-empty list or tuple of paths."""
    if isinstance(X, (str, os.PathLike)):
        return True
    return (isinstance(X, (list, tuple)) and len(X) > 0
            and all(isinstance(x, (str, os.PathLike)) for x in X))

"""A network on a device: its parameters and data in shared variables, and the functions compiled from them.

:class:`DeviceNetwork` holds what a :class:`dlpy35.engine.trainer.Trainer` trains --
the model's parameters and the training rows in shared variables on the device,
the labelled sets it is scored on in padded chunks -- and compiles, once per key,
the functions that work on them: the SGD update of a chunk of mini-batches or of
one, the status that the divergence guard reads, the scores of a set and the
forward pass.  The hooks a population vectorizes (``_step``, ``_example_metrics``,
``_forward``) are here; what runs them epoch after epoch is the trainer's.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt

from dlpy35.engine import graph
from dlpy35.engine.evaluation import padded_chunks, set_metrics
from dlpy35.engine.layers import noise_table
from dlpy35.engine.records import Evaluation


class DeviceNetwork:
    """One model's parameters, data and compiled functions on one device.

    Parameters
    ----------
    model : dlpy35.engine.model.Model
        The network's symbolic description.
    device : dlpy35.engine.device.Device
    values : list of arrays
        Initial parameters, in the order of ``model.param_names``.
    order : dlpy35.engine.order.OneOrder or dlpy35.engine.order.OwnOrders
        Where the mini-batches' rows come from: its ``shape`` is their leading shape.
    eval_chunk : int, optional
        Rows per evaluation chunk (im2col patches of a whole test set would not
        fit); None evaluates a set in one chunk.
    """

    net_shape = ()  # the shape of per-network figures: a scalar for one network

    def __init__(self, model, device, values, order, eval_chunk=None):
        self.model, self.device, self.order, self.eval_chunk = model, device, order, eval_chunk
        self.dtype = device.dtype
        # A population's graphs are vectorized with parameters of fixed shapes.
        self.params = [device.shared(v, name, static=bool(self.net_shape))
                       for v, name in zip(values, model.param_names)]
        self._train = None  # (x, y) shared, made by the first load_training
        self._sets = {}  # name -> (chunks of x, of labels, chunk indices) on the device
        self._cost_sum = device.shared(np.zeros(self.net_shape, self.dtype), "cost_sum")
        self._noise = device.shared(noise_table().astype(self.dtype), "noise") if model.stochastic else None
        self._fns = {}

    # -- parameters ------------------------------------------------------------------
    def values(self):
        """Host copies of the parameters."""
        return [self.device.read(p) for p in self.params]

    def assign(self, values):
        for p, v in zip(self.params, values):
            self.device.assign(p, v)

    # -- compiled functions ----------------------------------------------------------------
    def compiled(self, key, build):
        """The function `build()` compiled once for this trainer and cached under `key`."""
        if key not in self._fns:
            self._fns[key] = build()
        return self._fns[key]

    def _train_fn(self, kind, option, m):
        """The compiled SGD update of a chunk of mini-batches (``scan``) or of one (``step``).

        Keyed (stochastic) models compile for their static mini-batch size `m`, and so do
        populations of one shared order: their rows are not lifted, so nothing else gives
        them a static size, which JAX needs for the reshapes of the shared convolution.
        """
        keyed = self.model.stochastic
        m = m if keyed or (self.net_shape and not self.order.shape) else None

        def build():
            hyper = {name: pt.tensor(name, dtype=self.dtype, shape=self.net_shape)
                     for name in self.model.hyper_names}

            def step(rows, params, key):
                return self._step(rows, params, key, hyper, option)

            # Rows of indices (a leading axis per order in a population), each with a key when keyed.
            width = None if m is None else m + (1 if keyed else 0)  # the key column
            shape = (None, *self.order.shape, width)[kind == "step":]
            batches = pt.tensor("batches", dtype="int64", shape=shape)
            if kind == "scan":
                new, c = graph.scan_sgd(step, batches, self.params, m if keyed else None)
            else:
                rows, key = graph.split_key(batches, m) if keyed else (batches, None)
                new, c = step(rows, self.params, key)
            updates = [*zip(self.params, new), (self._cost_sum, self._cost_sum + c)]
            return self.device.function([batches, *hyper.values()], [], updates=updates, name=f"sgd_{kind}")

        return self.compiled(("train", kind, option, m), build)

    def _step(self, rows, params, key, hyper, option):
        """The model's SGD step on the training rows `rows`: ``(new params, mean cost)``."""
        objective, cost = self._objective(rows, params, key, hyper, option)
        grads = pytensor.grad(objective, params)
        return self.model.update(params, grads, hyper, option, rows.shape[-1]), cost

    def _objective(self, rows, params, key, hyper, option):
        x, y = self._train
        noise = (self._noise, key) if self.model.stochastic else None
        # The width as a constant, as the rows' count is: rewrites that need static shapes may then apply
        # (dlpy35.engine.rewrites: a shared-order population's first fully connected layer).
        inputs = pt.specify_shape(x[rows], (*rows.type.shape, self.model.n_in))
        return self.model.objective(inputs, y[rows], params, hyper, option, noise)

    def _status_fn(self):
        """(epoch's cost sum, parameters usable): finite and below ``sqrt(max float)``.

        Bounded outputs (sigmoid, softmax) let a runaway eta show first as
        weights growing towards overflow; past ``sqrt(max)`` a product can overflow.
        """
        def build():
            limit = pt.constant(np.sqrt(np.finfo(self.dtype).max).astype(self.dtype))
            lead = len(self.net_shape)  # all of one network's entries, each network's in a population
            per_net = [pt.all(pt.isfinite(p) & (pt.abs(p) < limit), axis=tuple(range(lead, p.ndim)))
                       for p in self.params]
            usable = pt.all(pt.stack(per_net), axis=0)
            return self.device.function([], [self._cost_sum, usable], name="status")

        return self.compiled("status", build)

    def _metrics_fn(self):
        """The compiled (correct, summed cost, most common answer's count) of a :meth:`load_set` set."""
        return self.compiled("metrics", lambda: self.device.function(
            *set_metrics(self._example_metrics, self.model.n_out, self.dtype), name="metrics"))

    def _example_metrics(self, x, labels):
        return self.model.example_metrics(x, labels, self.params)

    def forward(self, x):
        """Output activations for the rows of `x`, in chunks of ``eval_chunk`` rows."""
        rows = pt.matrix("x", dtype=self.dtype)
        fn = self.compiled("forward", lambda: self.device.function([rows], self._forward(rows),
                                                                   name="forward"))
        step = self.eval_chunk or max(len(x), 1)
        return np.concatenate([self.device.get(fn(self.device.put(x[i:i + step])))
                               for i in range(0, len(x), step)], axis=-2)

    def _forward(self, x):
        return self.model.forward(x, self.params)

    # -- data on the device --------------------------------------------------------------------
    def load_training(self, x, y):
        """Put the training inputs and targets on the device (once per run, never per mini-batch)."""
        if self._train is None:
            self._train = (self.device.shared(x, "train_x"), self.device.shared(y, "train_y"))
        else:
            self.device.assign(self._train[0], x)
            self.device.assign(self._train[1], y)

    def load_set(self, name, x, labels):
        """Put a labelled set on the device in padded chunks (:func:`dlpy35.engine.evaluation.padded_chunks`);
        its size."""
        chunks = padded_chunks(x, labels, self.eval_chunk, self.dtype)
        self._sets[name] = tuple(self.device.put(a) for a in chunks)
        return len(x)

    def evaluate(self, name, n):
        """:class:`Evaluation` of the loaded set `name` of `n` rows."""
        correct, cost, most = (self.device.get(v) for v in self._metrics_fn()(*self._sets[name]))
        return Evaluation(int(correct), n, float(cost), int(most))

    def evaluate_data(self, x, labels):
        """:class:`Evaluation` of the rows `x` with `labels`, leaving the run's sets in place."""
        return self.evaluate("other", self.load_set("other", x, labels))

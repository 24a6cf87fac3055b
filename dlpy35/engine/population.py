"""Populations: K networks of one architecture trained together, one compiled call for all K.

Each network of a population has its own seed -- its initial weights *and* its
own shuffle and dropout keys, drawn from its own generator exactly as the same
network trained alone draws them -- and its own eta and lambda.  The parameters
of all K are stacked along a leading axis in shared variables on the device; an
epoch is the same few ``scan`` calls as one network's, each updating all K; one
call evaluates all K.

The graphs are built for one network, by the same code that trains one network
(:class:`dlpy35.engine.trainer.Trainer`), and vectorized along the population axis by
PyTensor's ``vectorize_graph``: every op of the step (the matmuls, the im2col
convolution, the dropout gathers) gains a batch dimension.  So network k of a
population computes what it computes when trained alone, but through batched
(or, with a shared order, wide) kernels whose floating-point order is not one
network's.  It ends bit for bit where it ends alone only in float64 on Numba
(sigmoid networks, all regularised or all not: :class:`Population`).  In
float32 it ends there only up to those kernels' rounding, which depends on the
CPU, on K and on the shapes: after two epochs on 400 images the weights differ
by up to about 1e-6 (the tests allow 2e-5), and a chaotic run amplifies that.
Measured on an AMD EPYC (JAX, eta 3.0, quadratic cost, the first 10,000
training images, accuracy on the test set): seeds 0-3 of ``[784, 100, 10]``
ended exactly as alone in an own-order population of 4 but, in one of 8, up
to 7.77 percentage points apart within 3 epochs (seed 1 after epoch 1: 30.10%
alone, 37.87% in the population); seeds 0-3 of ``[784, 30, 10]`` in a
shared-order population of 4, up to 0.78 points over 10 epochs.  A
population's per-seed figures are the population's.

By default every network follows its own order (:class:`dlpy35.engine.order.OwnOrders`).
A population of one shared order (``order="shared"``, a :class:`dlpy35.engine.order.OneOrder`
of network 0's generator) lets all networks follow network 0's shuffles and
dropout keys after each has drawn its own initial weights: the networks then
share their input, and PyTensor's rewrites (with :mod:`dlpy35.engine.rewrites`) turn
the K first-layer matmuls into one wide matmul, forward and backward, that reads
the stacked weights in place -- about twice the throughput of K own orders on a
CPU (the README's table).

A population checkpoints as one network does (:mod:`dlpy35.storage.checkpoint`, the
``checkpoint_dir``, ``resume`` and ``overwrite`` of ``SGD``): one file holds every
network's parameters stacked (K leading), their generators' states, the diverged
networks, every epoch's records and the run's identity (the seeds, the order, the
etas and lambdas, the layers...), and a resume ends where an uninterrupted run ends.

A network that diverges is marked (``diverged`` holds its epoch), keeps the
weights of its last good epoch and stops updating; the others go on.  A network
that saturates (one answer to nearly everything, its cost flat) is named in a
:class:`dlpy35.engine.records.SaturationWarning`, once, as a network alone would be.
"""

from __future__ import annotations

import math

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import vectorize_graph

from dlpy35.engine import arguments, costs, graph
from dlpy35.engine.callbacks import Callback, OnEpoch, SaturationCheck
from dlpy35.engine.device import resolve
from dlpy35.engine.order import OneOrder, OwnOrders
from dlpy35.engine.records import EpochRecord, Evaluation, PopulationRecord
from dlpy35.engine.trainer import Trainer
from dlpy35.storage import checkpoint
from dlpy35.text import plural

MEMORY_SHARE = 0.8  # a population may plan to use this share of the device's free memory
EVAL_BYTES = 1 << 28  # what K networks' forward passes of one evaluation chunk may hold


class PopulationError(ValueError):
    """Settings that make no population: lists that cannot be combined, no networks, too many to fit."""


def per_net(values, k, name):
    """`values` (one value, or one per network) as a list of `k`; PopulationError otherwise."""
    values = list(values) if isinstance(values, (list, tuple, np.ndarray)) else [values]
    if len(values) == 1:
        return values * k
    if len(values) != k:
        raise PopulationError(f"{name}: {plural(len(values), 'value')} for {plural(k, 'network')}; "
                              "give one value, or one per network")
    return values


class PopulationTrainer(Trainer):
    """A :class:`dlpy35.engine.trainer.Trainer` for K networks at once.

    Parameters
    ----------
    model
        One network's model (a :class:`dlpy35.engine.model.Model`).
    device : dlpy35.engine.device.Device
    values : list of arrays
        Every network's initial parameters, stacked: ``(K, *shape)`` per parameter.
    order : dlpy35.engine.order.OwnOrders or dlpy35.engine.order.OneOrder
        Network k's shuffles and dropout keys from its own generator, or all from one.
    epoch_mode, drop_last, eval_chunk
        As for :class:`dlpy35.engine.trainer.Trainer`.
    """

    record_type = PopulationRecord

    def __init__(self, model, device, values, order, epoch_mode="scan", drop_last=False, eval_chunk=None):
        self.k = len(values[0])
        self.net_shape = (self.k,)  # one figure per network
        super().__init__(model, device, values, order, epoch_mode, drop_last, eval_chunk)
        self._active = device.shared(np.ones(self.k, bool), "active")
        self.diverged = [None] * self.k  # the epoch in which network k diverged

    # -- one network's graph, for all K ------------------------------------------------------------
    def _lift(self, build, batched):
        """`build` (a graph for one network) for all K: vectorized along the leading axis of `batched`.

        `build` receives placeholders of `batched`'s types without that axis and
        returns a list of outputs.
        """
        one = [pt.tensor(dtype=t.dtype, shape=t.type.shape[1:]) for t in batched]
        # Static sizes (K, and each network's own) let JAX trace the reshapes of the vectorized graph.
        batched = [pt.specify_shape(t, (self.k, *t.type.shape[1:])) for t in batched]
        return vectorize_graph(build(*one), replace=dict(zip(one, batched)))

    def _step(self, rows, params, key, hyper, option):
        """Every network's step: the objectives vectorized, then one ``pytensor.grad`` of their sum.

        The networks share no parameters, so the gradient of the sum with respect
        to network k's parameters is network k's gradient.  (Vectorizing the forward
        graph rather than the gradient keeps every op native: the gradient of a
        batched slice is a batched slice's gradient, not a loop over networks.)
        """
        n, h, keyed = len(params), len(hyper), key is not None
        own = bool(self.order.shape)  # K orders are lifted; one shared order is every network's input as is

        def objective(*rest):
            rows1, key1 = (rest[n + h], rest[-1] if keyed else None) if own else (rows, key)
            return list(self._objective(rows1, list(rest[:n]), key1, dict(zip(hyper, rest[n:n + h])), option))

        order = [rows, *([key] if keyed else [])] if own else []
        objective, cost = self._lift(objective, [*params, *hyper.values(), *order])
        grads = pytensor.grad(pt.sum(objective), params)
        m = rows.shape[-1]

        def update(*rest):
            return self.model.update(list(rest[:n]), list(rest[n:2 * n]), dict(zip(hyper, rest[2 * n:])),
                                     option, m)

        new = self._lift(update, [*params, *grads, *hyper.values()])
        # A diverged network keeps its weights: where() rather than eta = 0, which NaN gradients would defeat.
        active = self._active
        new = [pt.where(active.reshape((self.k,) + (1,) * (p.ndim - 1)), u, p) for u, p in zip(new, params)]
        return new, pt.where(active, cost, 0)

    def _example_metrics(self, x, labels):
        return self._lift(lambda *p: list(self.model.example_metrics(x, labels, list(p))), self.params)

    def _forward(self, x):
        return self._lift(lambda *p: [self.model.forward(x, list(p))], self.params)[0]

    # -- per-network hyperparameters, divergence and records -----------------------------------------
    def begin(self, x, y, epochs, m, eta, hyper, option=None, sets=None):
        """:meth:`dlpy35.engine.trainer.Trainer.begin`, the diverged networks in ``run.state`` too."""
        run = super().begin(x, y, epochs, m, eta, hyper, option, sets)
        run.state["diverged"] = list(self.diverged)  # what a checkpoint keeps of the guard's work
        return run

    def checked_eta(self, eta):
        """Every network's learning rate (one for all, or one per network), checked: a list of K."""
        return [arguments.check_eta(e, self.dtype) for e in per_net(eta, self.k, "eta")]

    def set_eta(self, run, eta):
        """Set every network's learning rate (one per network) and what follows from it, on the device."""
        run.eta = self.checked_eta(eta)
        hyper = run.hyper(np.asarray(run.eta))
        run.hyper_d = tuple(self.device.put(np.broadcast_to(np.asarray(v, self.dtype), self.net_shape))
                            for v in hyper.values())

    def _guard(self, run, j, cost_sum, usable):
        """Mark the networks that diverged in epoch `j`; put back their last good weights and freeze them."""
        active = np.array([d is None for d in self.diverged])
        failed = active & ~(usable & np.isfinite(cost_sum))
        if not failed.any():
            return
        values = self.values()
        for k in np.flatnonzero(failed):
            self.diverged[k] = j
            for v, s in zip(values, run.snapshot):
                v[k] = s[k]
        self.assign(values)
        self.device.assign(self._active, active & ~failed)
        run.state["diverged"] = list(self.diverged)

    def evaluate(self, name, n):
        """Every network's :class:`dlpy35.engine.records.Evaluation` of the loaded set `name`."""
        correct, cost, most = (self.device.get(v) for v in self._metrics_fn()(*self._sets[name]))
        return [Evaluation(int(c), n, float(s), int(m)) for c, s, m in zip(correct, cost, most)]

    def _record(self, run, j, seconds, cost, evaluations):
        # A network that diverged has no record from that epoch on, as a network alone stops there.
        records = [None if self.diverged[k] is not None else
                   EpochRecord(epoch=j, seconds=seconds, eta=run.eta[k], cost=float(cost[k]),
                               evaluations={name: evs[k] for name, evs in evaluations.items()})
                   for k in range(self.k)]
        return PopulationRecord(epoch=j, seconds=seconds, eta=list(run.eta), records=records)

    # -- checkpoints: every network's parameters stacked, K leading; the diverged networks in run.state --
    def checkpoint_arrays(self, values):
        """Network k's arrays in the model's checkpoint layout, at index k of each stacked array."""
        per_network = [self.model.checkpoint_arrays([v[k] for v in values]) for k in range(self.k)]
        return tuple([np.stack(arrays) for arrays in zip(*(net[part] for net in per_network))]
                     for part in (0, 1))

    def from_checkpoint(self, weights, biases):
        """The stacked parameters from :meth:`checkpoint_arrays`' layout; ValueError naming what does not
        fit."""
        wrong = [np.shape(a) for a in (*weights, *biases) if np.ndim(a) == 0 or len(a) != self.k]
        if wrong:
            raise ValueError(f"arrays of shapes {wrong} do not hold {plural(self.k, 'network')}")
        nets = [self.model.from_checkpoint([w[k] for w in weights], [b[k] for b in biases])
                for k in range(self.k)]
        return [np.stack(p) for p in zip(*nets)]

    def checked_state(self, state):
        """The trainer's checks, every network's eta and the diverged networks (K epochs or None)."""
        state = super().checked_state(state)
        diverged = state["diverged"]
        epochs = isinstance(diverged, list) and len(diverged) == self.k
        if not (epochs and all(d is None or (type(d) is int and d >= 0) for d in diverged)):
            raise ValueError(f"diverged: expected {self.k} epochs or nulls, got {diverged!r}")
        return state

    def restore(self, run, values, order_state, state, records):
        """Continue `run` from a checkpoint: the diverged networks stay frozen, as they were."""
        super().restore(run, values, order_state, state, records)
        self.diverged = list(state["diverged"])
        self.device.assign(self._active, np.array([d is None for d in self.diverged]))

    def net_values(self, k):
        """Network k's parameters (host copies)."""
        return [v[k] for v in self.values()]


# Where a population's order comes from, by name: every network's own generator, or network 0's for all.
ORDERS = {"own": OwnOrders, "shared": lambda rngs: OneOrder(rngs[0])}


def estimate_bytes(model, k, rows, itemsize):
    """Bytes a population of `k` networks needs on the device while training, roughly.

    Per network: the parameters four times over (the weights, the step's new
    weights and gradients, the last good epoch's copy) and, twice (values and
    gradients), what the forward pass of `rows` rows holds (the model's ``widths``).
    """
    params = sum(math.prod(s) for s in model.param_shapes)
    return k * itemsize * (4 * params + 2 * rows * sum(model.widths()))


def eval_chunk(model, k, itemsize, budget=EVAL_BYTES):
    """Rows per evaluation chunk so that K networks' forward passes of one chunk stay within `budget`."""
    return max(1, budget // (k * itemsize * sum(model.widths())))


def check_fits(device, model, k, rows):
    """PopulationError, before anything is allocated, when `k` networks will not fit in the device."""
    need = estimate_bytes(model, k, rows, np.dtype(device.dtype).itemsize)
    have = device.memory_bytes()
    if need > MEMORY_SHARE * have:
        fit = int(MEMORY_SHARE * have // (need / k))
        fix = (f"train at most {plural(fit, 'network')} per population" if fit else
               "not one network fits; free memory on the device or train on another")
        raise PopulationError(f"a population of {plural(k, 'network')} needs about "
                              f"{need / 2**30:.1f} GiB, more than {MEMORY_SHARE:.0%} of the "
                              f"{have / 2**30:.1f} GiB free on the {device.kind}; {fix}")


class PopulationBase:
    """What every population has: K seeds, etas and lambdas, a :class:`PopulationTrainer`, histories.

    Subclasses give the model, each network's initial parameters and the
    hyperparameters of a step.
    """

    drop_last = False  # the book's chapter 6 leaves the rest of an epoch's permutation out; 1 and 3 train it
    most_eval_rows = None  # rows per evaluation chunk at most (chapter 6's im2col patches)

    def __init__(self, model, n_in, seeds, etas, lmbdas, dtype, mode, device, epoch_mode, order):
        if order not in ORDERS:
            raise PopulationError(f"order must be one of {tuple(ORDERS)}, got {order!r}")
        self.order = order
        self.seeds = [arguments.check_count(s, "seed", 0) for s in seeds]
        self.k = len(self.seeds)
        if self.k == 0:
            raise PopulationError("a population needs at least one network; give at least one seed")
        self.etas = [arguments.check_eta(e, dtype) for e in per_net(etas, self.k, "etas")]
        self.lmbdas = [arguments.check_lmbda(x) for x in per_net(lmbdas, self.k, "lmbdas")]
        self.model, self.n_in, self.dtype, self.epoch_mode = model, n_in, dtype, epoch_mode
        self.device = resolve(device, mode, dtype)
        self.trainer = None  # made by SGD, once the mini-batch size is known to check the memory
        self.records, self.diverged = [[] for _ in range(self.k)], [None] * self.k

    def _init_params(self, rng):
        """One network's initial parameters, drawn from its generator as the network alone draws them."""
        return self.model.init_params(rng, self.dtype)

    def _eval_chunk(self):
        chunk = eval_chunk(self.model, self.k, np.dtype(self.dtype).itemsize)
        return min(chunk, self.most_eval_rows or chunk)

    def check_fits(self, mini_batch_size):
        """PopulationError when the population would not fit in the device's memory (nothing allocated)."""
        check_fits(self.device, self.model, self.k, max(mini_batch_size, self._eval_chunk()))

    def _make_trainer(self, m):
        self.check_fits(m)
        chunk = self._eval_chunk()
        rngs = [np.random.default_rng(s) for s in self.seeds]
        stacked = [np.stack(p) for p in zip(*(self._init_params(rng) for rng in rngs))]
        return PopulationTrainer(self.model, self.device, stacked, ORDERS[self.order](rngs),
                                 epoch_mode=self.epoch_mode, drop_last=self.drop_last, eval_chunk=chunk)

    def _train(self, x, y, epochs, m, sets, hyper, option, progress=None, on_epoch=None, callbacks=(),
               checkpoint_dir=None, resume=False, overwrite=False, verbose=True):
        """Train on the checked arrays, checkpointing into `checkpoint_dir` (continuing the checkpoint
        there with `resume`, saying so when `verbose`); the histories."""
        with checkpoint.claim(checkpoint_dir, resume, overwrite):
            self.trainer = self.trainer or self._make_trainer(m)
            run = self.trainer.begin(x, y, epochs, m, self.etas, hyper=hyper, option=option, sets=sets)
            run.identity = checkpoint.run_identity(self.trainer, run, {
                "networks": self.k, "seeds": self.seeds, "order": self.order, "lmbdas": self.lmbdas,
                **self._identity()})
            saver = checkpoint.Checkpoint.of_run(self.trainer, run, checkpoint_dir, resume, verbose,
                                                 required=("diverged",))
            policies = [SaturationCheck(), NetworkRecords(self), saver, on_epoch and OnEpoch(on_epoch),
                        *callbacks]
            self.trainer.train(run, [p for p in policies if p], progress=progress)
        return self.histories

    def _identity(self):
        """What defines the networks beyond their seeds and lambdas (:mod:`dlpy35.storage.identity`): their
        architecture (``sizes`` first, which a checkpoint reads) and the rest of their settings."""
        raise NotImplementedError

    @property
    def histories(self):
        """Per network, one flat dict per epoch (:meth:`dlpy35.engine.records.EpochRecord.flat`)."""
        return [[r.flat() for r in mine] for mine in self.records]

    def predict(self, x):
        """Every network's labels for the rows of `x` (in [0, 1]): an int64 array (K, n)."""
        x = arguments.unit_inputs(x, self.dtype, "predict input")
        arguments.check_width(x, self.n_in, "predict input")
        if self.trainer is None:
            raise ValueError("predict: the population is not trained yet; call SGD first")
        return np.argmax(self.trainer.forward(x), axis=-1).astype(np.int64)


class NetworkRecords(Callback):
    """Keeps each network's :class:`dlpy35.engine.records.EpochRecord` list (``records``) and the diverged
    networks of a population; stops the run once every network has diverged."""

    def __init__(self, population):
        self.population = population

    def on_start(self, trainer, run):
        """A resumed run's records and diverged networks, as the checkpoint holds them."""
        pop = self.population
        if run.records:
            pop.records = [[r.records[k] for r in run.records if r.records[k] is not None]
                           for k in range(pop.k)]
        pop.diverged = list(trainer.diverged)

    def after_epoch(self, trainer, run, record):
        pop = self.population
        for k, r in enumerate(record.records):
            if r is not None:
                pop.records[k].append(r)
        pop.diverged = list(trainer.diverged)
        return "every network diverged" if all(d is not None for d in pop.diverged) else None


class Population(PopulationBase):
    """K sigmoid networks of chapters 1 and 3 -- one architecture -- trained together.

    Network k is ``dlpy35.network2.Network(sizes, cost=cost, seed=seeds[k],
    weight_init=weight_init)`` trained with ``eta=etas[k]`` and ``lmbda=lmbdas[k]``
    (with ``order="shared"``: that network trained on network 0's shuffles).  It
    ends with the weights that network ends with bit for bit in float64 on Numba
    when the networks are all regularised or all not (the update of a network
    with lmbda 0 among regularised ones multiplies by ``1 - 0``, which changes
    the order of BLAS's sums in the last bit); in float32 only up to the
    rounding of the batched kernels, which a chaotic run amplifies (the module
    docstring gives a measured spread).

    Parameters
    ----------
    sizes : list of int
    seeds : list of int
        One per network; K is their number.
    etas, lmbdas : float or list of float
        One value for all, or one per network.
    cost : QuadraticCost, CrossEntropyCost or a name
    weight_init : {"large", "default"}
    reg : {"l2", "l1"}
    dtype, mode, device, epoch_mode
        As for :class:`dlpy35.network.Network`.
    order : {"own", "shared"}
        Each network shuffles with its own generator, or all follow network 0's
        (faster: the networks share their input).

    Attributes
    ----------
    records : list of list of dlpy35.engine.records.EpochRecord
        After ``SGD``: per network, one record per epoch.
    histories : list of list of dict
        The same as flat dicts (``epoch``, ``seconds``, ``eta``, ``training_cost``,
        ``evaluation_correct``, ``evaluation_total``).
    diverged : list
        Per network, the epoch it diverged in, or None.
    """

    def __init__(self, sizes, seeds, etas, lmbdas=0.0, cost=costs.QuadraticCost, weight_init="large",
                 reg="l2", dtype="float32", mode=None, device="auto", epoch_mode="scan", order="own"):
        self.sizes = arguments.check_sizes(sizes)
        if reg not in ("l2", "l1"):
            raise ValueError(f"reg must be 'l2' or 'l1', got {reg!r}")
        self.cost, self.reg, self.weight_init = costs.get(cost), reg, weight_init
        super().__init__(graph.SigmoidNet(self.sizes, self.cost), self.sizes[0], seeds, etas, lmbdas, dtype,
                         mode, device, epoch_mode, order)

    def _init_params(self, rng):
        return self.model.init_params(rng, self.dtype, self.weight_init)

    def SGD(self, training_data, epochs, mini_batch_size, evaluation_data=None, *,  # noqa: N802 (the book's)
            test_data=None, progress=None, on_epoch=None, callbacks=(), **keep):
        """Train all K networks for `epochs` epochs; return their histories (one list per network).

        `training_data`, `evaluation_data` and `test_data` take the forms ``network2``'s
        ``SGD`` takes; `test_data`, evaluated after every epoch too (records' ``"test"``),
        tells what a choice made on `evaluation_data` is worth on unseen images.
        `on_epoch` receives each :class:`dlpy35.engine.records.PopulationRecord`, and so
        do the `callbacks` (:class:`dlpy35.engine.callbacks.Callback`), after the population's own.
        `keep` takes ``checkpoint_dir``, ``resume``, ``overwrite`` and ``verbose`` (say that the run
        resumes), as ``network3``'s ``SGD`` does:
        one checkpoint of every network (:mod:`dlpy35.storage.checkpoint`) after every epoch and on
        Ctrl-C, which a resume continues exactly (a checkpoint of another run is refused).
        """
        x, y = arguments.training_arrays(training_data, self.sizes[0], self.sizes[-1], self.dtype)
        n = len(x)
        epochs = arguments.check_count(epochs, "epochs", 0)
        m = arguments.check_count(mini_batch_size, "mini_batch_size", 1, n)
        n_in, n_out = self.sizes[0], self.sizes[-1]
        sets = {name: arguments.labelled_arrays(data, n_in, n_out, self.dtype, f"{name}_data")
                for name, data in (("evaluation", evaluation_data), ("test", test_data)) if data is not None}
        lmbdas = np.asarray(self.lmbdas)
        return self._train(x, y, epochs, m, sets, lambda etas: {"eta": etas, "decay": etas * lmbdas / n},
                           self.reg if lmbdas.any() else None, progress, on_epoch, callbacks, **keep)

    def _identity(self):
        return {"sizes": self.sizes, "cost": self.cost.name, "init": self.weight_init, "reg": self.reg}

    def network(self, k):
        """Network k as a ``dlpy35.network2.Network`` holding its current weights (to save, to predict)."""
        from dlpy35.network2 import Network

        net = Network(self.sizes, cost=self.cost, dtype=self.dtype, mode=self.device.mode,
                      device=self.device.kind, seed=self.seeds[k])
        if self.trainer is not None:
            net.trainer.assign(self.trainer.net_values(k))
        return net


class LayerPopulation(PopulationBase):
    """K networks of chapter 6's layers -- one architecture -- trained together; chapter 6's ensembles.

    Network k is ``dlpy35.network3.Network(layers, mini_batch_size, seed=seeds[k])``
    trained with ``eta=etas[k]`` and ``lmbda=lmbdas[k]``: its own initial
    weights, shuffles and dropout masks (with ``order="shared"``, network 0's
    shuffles and masks).  :meth:`vote` is the ensemble's answer.

    Parameters
    ----------
    layers : list of dlpy35.engine.layers.Layer
    mini_batch_size : int
    seeds, etas, lmbdas, dtype, mode, device, epoch_mode, order
        As for :class:`Population`.
    """

    drop_last = True

    def __init__(self, layers, mini_batch_size, seeds, etas, lmbdas=0.0, dtype="float32", mode=None,
                 device="auto", epoch_mode="scan", order="own"):
        from dlpy35.engine.layers import LayerStack
        from dlpy35.network3 import EVAL_BATCH

        self.mini_batch_size = arguments.check_count(mini_batch_size, "mini_batch_size", 1)
        model = LayerStack(layers, self.mini_batch_size)
        self.most_eval_rows = EVAL_BATCH
        super().__init__(model, model.layers[0].n_in, seeds, etas, lmbdas, dtype, mode, device, epoch_mode,
                         order)

    def SGD(self, training_data, epochs, validation_data=None, test_data=None, *,  # noqa: N802 (the book's)
            progress=None, on_epoch=None, callbacks=(), **keep):
        """Train all K networks for `epochs` epochs of mini-batches of ``mini_batch_size``; the histories.

        The data take the forms ``network3``'s ``SGD`` takes; each history's dicts
        hold ``validation_correct``/``_total`` and ``test_correct``/``_total``.
        `on_epoch`, `callbacks` and `keep` (checkpoints) as for :meth:`Population.SGD`.
        """
        n_out = self.model.n_out

        def labelled(data, name):
            return arguments.labelled_arrays(data, self.n_in, n_out, self.dtype, name)

        x, y = labelled(training_data, "training_data")
        epochs = arguments.check_count(epochs, "epochs", 0)
        sets = {k: labelled(d, f"{k}_data") for k, d in (("validation", validation_data), ("test", test_data))
                if d is not None}
        n_batches = max(len(x) // self.mini_batch_size, 1)
        lmbdas = np.asarray(self.lmbdas)
        return self._train(x, y, epochs, self.mini_batch_size, sets,
                           lambda etas: {"eta": etas, "l2": lmbdas / n_batches}, None, progress, on_epoch,
                           callbacks, **keep)

    def _identity(self):
        layers = self.model.layers
        return {"sizes": [self.n_in, *(layer.n_out for layer in layers)],
                "layers": [layer.spec() for layer in layers]}

    def network(self, k):
        """Network k as a ``dlpy35.network3.Network`` holding its current weights (to save, to predict)."""
        from dlpy35.network3 import Network

        net = Network(self.model.layers, self.mini_batch_size, seed=self.seeds[k], dtype=self.dtype,
                      mode=self.device.mode, device=self.device.kind)
        if self.trainer is not None:
            net.trainer.assign(self.trainer.net_values(k))
        return net

    def vote(self, x):
        """The ensemble's labels for the rows of `x`: the plurality vote of the K networks (ties: lowest)."""
        from dlpy35.engine.ensemble import plurality

        return plurality(self.predict(x))

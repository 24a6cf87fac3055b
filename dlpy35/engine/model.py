"""The model contract: what :class:`dlpy35.engine.trainer.Trainer` needs of a network's symbolic description.

:class:`dlpy35.engine.graph.SigmoidNet` (chapters 1 and 3) and
:class:`dlpy35.engine.layers.LayerStack` (chapter 6) implement it.  A model holds no
state: the trainer owns the parameters (shared variables) and passes them in.
"""

from __future__ import annotations

from abc import ABC, abstractmethod


class Model(ABC):
    """A network's symbolic description.

    Attributes
    ----------
    param_names : list of str
        Names of the parameters, in the order of the arrays the trainer holds.
    param_shapes : list of tuple
        Their shapes.
    hyper_names : tuple of str
        The scalar hyperparameters of a step, ``"eta"`` first.
    stochastic : bool
        True when a step needs noise (dropout): it then receives ``noise = (table,
        key)``, :func:`dlpy35.engine.layers.noise_table` on the device and a random key per
        mini-batch, drawn from the trainer's order.
    n_in, n_out : int
        Input width and number of classes.
    """

    param_names: list
    param_shapes: list
    hyper_names: tuple
    stochastic: bool
    n_in: int
    n_out: int

    @abstractmethod
    def init_params(self, rng, dtype):
        """Initial parameters drawn from the generator `rng`, as arrays of `dtype`."""

    @abstractmethod
    def objective(self, x, y, params, hyper, option, noise=None):
        """``(objective, mean_cost)`` of one mini-batch: the step differentiates the first with
        ``pytensor.grad`` and reports the second.  `hyper` maps names to scalars; `option` is the run's
        hashable variant (the regulariser, for instance)."""

    @abstractmethod
    def update(self, params, grads, hyper, option, m):
        """The SGD update from the gradients of a mini-batch of `m` rows: the new parameters."""

    @abstractmethod
    def forward(self, x, params):
        """The output activations for the rows of `x`."""

    @abstractmethod
    def example_metrics(self, x, labels, params):
        """Per row: ``(the class the network answers, its cost)``."""

    @abstractmethod
    def checkpoint_arrays(self, values):
        """The parameters in the checkpoint file's ``(weights, biases)`` layout."""

    @abstractmethod
    def from_checkpoint(self, weights, biases):
        """The flat parameter list from the checkpoint layout; ValueError naming what does not fit."""

    @abstractmethod
    def widths(self):
        """Values per row that one forward pass holds, layer by layer (what a population's memory
        estimate counts)."""

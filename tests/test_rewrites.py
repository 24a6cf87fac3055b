"""The rewrite dlpy35 adds to PyTensor's: the same numbers, and no transposed copy of the weights."""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.tensor.elemwise import DimShuffle

from dlpy35.device import resolve


def compiled(build, shape):
    """`build` compiled as dlpy35 compiles (float32 on JAX; a float64 JAX compile would turn x64 on)."""
    w = pt.tensor("w", dtype="float32", shape=shape)
    fn = resolve("cpu", "JAX", "float32").function([w], build(w))
    fn.trust_input = False  # numpy in, as here
    orders = [node.op.new_order for node in fn.maker.fgraph.apply_nodes if isinstance(node.op, DimShuffle)]
    return fn, orders


@pytest.mark.parametrize("shape", [(4, 3, 5), (2, 3, 4, 5)])
def test_the_last_axis_first_reshape_becomes_a_view_and_keeps_every_number(shape):
    w = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    last_first = (len(shape) - 1, *range(len(shape) - 1))
    fn, orders = compiled(lambda t: t.transpose(last_first).reshape((shape[-1], -1)), shape)
    np.testing.assert_array_equal(fn(w), w.transpose(last_first).reshape(shape[-1], -1))
    assert last_first not in orders and (1, 0) in orders  # the transposed copy became a 2-D transpose


@pytest.mark.parametrize("rows", [20, 3])
def test_other_reshapes_are_left_alone(rows):
    """Rows other than the moved axis's size are no view of w: the graph keeps its transpose."""
    w = np.random.default_rng(1).standard_normal((4, 3, 5)).astype(np.float32)
    fn, orders = compiled(lambda t: t.transpose(2, 0, 1).reshape((rows, -1)), (4, 3, 5))
    np.testing.assert_array_equal(fn(w), w.transpose(2, 0, 1).reshape(rows, -1))
    assert (2, 0, 1) in orders


def test_a_shared_order_population_step_copies_no_weights(mnist):
    """The wide first-layer matmul of a shared-order population reads the stacked weights in place."""
    from dlpy35.population import Population

    (tx, ty), _, _ = mnist
    pop = Population([784, 12, 10], [0, 1, 2], 3.0, mode="JAX", device="cpu", order="shared")
    pop.SGD((tx[:40], ty[:40]), 1, 10)
    (step,) = [f for key, f in pop.trainer._fns.items() if key[:2] == ("train", "scan")]
    text = pytensor.printing.debugprint(step, file="str")
    assert "Transpose{axes=(2, 0, 1)}" not in text and "Dot" in text

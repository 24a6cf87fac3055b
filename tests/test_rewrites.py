"""The rewrite dlpy35 adds to PyTensor's: the same numbers, and no transposed copy of the weights."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.graph.traversal import applys_between
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.shape import Reshape

from dlpy35.engine import rewrites
from dlpy35.engine.device import resolve

REPO = Path(__file__).resolve().parents[1]

# A graph the rewrite matches, compiled in PyTensor's own modes (the default, the plain
# fast_run rewrites, NUMBA, JAX in float32); after importing dlpy35 when argv[1] says so.
FOREIGN = textwrap.dedent("""
    import sys
    import pytensor, pytensor.tensor as pt
    from pytensor.compile.mode import Mode
    if sys.argv[1] == "dlpy35":
        import dlpy35, dlpy35.engine.device, dlpy35.engine.population
    x = pt.tensor3("x", dtype="float32", shape=(2, 3, 5))
    y = x.transpose(2, 0, 1).reshape((5, -1))
    for mode in (None, Mode(linker="py", optimizer="fast_run"), "NUMBA", "JAX"):
        print(pytensor.dprint(pytensor.function([x], y, mode=mode), file="str"))
    if sys.argv[1] == "dlpy35":
        ours = pytensor.function([x], y, mode=dlpy35.engine.rewrites.mode("JAX"))
        print("dlpy35's mode:", pytensor.dprint(ours, file="str"))
""")


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
    from dlpy35.engine.population import Population

    (tx, ty), _, _ = mnist
    pop = Population([784, 12, 10], [0, 1, 2], 3.0, mode="JAX", device="cpu", order="shared")
    pop.SGD((tx[:40], ty[:40]), 1, 10)
    (step,) = [f for key, f in pop.trainer._fns.items() if key[:2] == ("train", "scan")]
    text = pytensor.printing.debugprint(step.maker.fgraph, file="str")
    assert "Transpose{axes=(2, 0, 1)}" not in text and "Dot" in text


def rewritten(fn, out):
    """Whether `out` of `fn` was computed as ``reshape(w, (-1, n)).T``: a 2-D transpose of a reshape of w."""
    w = fn.maker.fgraph.inputs[0]
    for node in applys_between([w], [out]):
        if isinstance(node.op, DimShuffle) and tuple(node.op.new_order) == (1, 0):
            source = node.inputs[0].owner
            if source is not None and isinstance(source.op, Reshape) and source.inputs[0] is w:
                return True
    return False


@pytest.mark.parametrize("order", [*itertools.permutations(range(3)), *itertools.permutations(range(4))])
def test_the_rewrite_fires_for_the_last_axis_first_with_its_size_as_rows_only(order):
    """Every transpose of 3-D and 4-D weights reshaped to 2-D: numpy's numbers, and the view only where due.

    Due means the order ``(d-1, 0, ..., d-2)`` with as many rows as w's last size.  The sizes
    differ, so a guard that read the wrong axis would fire where it must not; a rewrite that
    fails while compiling raises here, where PyTensor would only log it and go on.
    """
    shape = (2, 3, 4, 5)[:len(order)]
    every_row_count = sorted({*shape, math.prod(shape) // shape[-1]})
    w = pt.tensor("w", dtype="float32", shape=shape)
    outs = [w.transpose(order).reshape((rows, -1)) for rows in every_row_count]
    with pytensor.config.change_flags(on_opt_error="raise"):
        fn = resolve("cpu", "JAX", "float32").function([w], outs)
    fn.trust_input = False
    value = np.arange(math.prod(shape), dtype=np.float32).reshape(shape)
    last_first = (len(shape) - 1, *range(len(shape) - 1))
    for rows, out, got in zip(every_row_count, fn.maker.fgraph.outputs, fn(value), strict=True):
        np.testing.assert_array_equal(got, value.transpose(order).reshape(rows, -1))
        assert rewritten(fn, out) == (order == last_first and rows == shape[-1]), (order, rows)


def compiled_in_a_new_process(first_import: str):
    """FOREIGN's printed graphs, from a new process that imports dlpy35 first (``"dlpy35"``) or not."""
    proc = subprocess.run([sys.executable, "-c", FOREIGN, first_import], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_importing_dlpy35_changes_no_other_codes_compiles():
    """A graph of someone else's that the rewrite matches compiles as in a process without dlpy35.

    dlpy35's own mode does rewrite it: the comparison would see a rewrite registered for every compile.
    """
    with_dlpy35, ours = compiled_in_a_new_process("dlpy35").split("dlpy35's mode:")
    assert with_dlpy35 == compiled_in_a_new_process("none")
    assert with_dlpy35.count("Transpose{axes=(2, 0, 1)}") == 4 and "Transpose{axes=(2, 0, 1)}" not in ours


def shared_input_matmuls(transposed):
    """``x @ w_k`` for 3 matrices ``w``, one shared ``x``, as vectorizing one network's ``x @ w`` makes it,
    and its gradient; `transposed`: ``x @ w_k.T``, a conv layer's form."""
    from pytensor.graph.replace import vectorize_graph

    x = pt.tensor("x", dtype="float32", shape=(4, 6))
    one = pt.tensor("one", dtype="float32", shape=(5, 6) if transposed else (6, 5))
    w = pt.tensor("w", dtype="float32", shape=(3, *one.type.shape))
    z = vectorize_graph(x @ (one.T if transposed else one), replace={one: w})
    fn = resolve("cpu", "JAX", "float32").function([x, w], [z, pytensor.grad(pt.sum(z ** 2), w)])
    fn.trust_input = False
    return fn


@pytest.mark.parametrize("transposed", [False, True])
def test_a_shared_input_matmul_reads_the_weights_in_place_and_keeps_every_number(transposed):
    """K matmuls (BatchedDot) for weights kept (n_in, n_out); a conv layer's transposed filters keep the
    wide matmul, which reads them in place.  Neither transposes the stacked weights."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    w = rng.standard_normal((3, 5, 6) if transposed else (3, 6, 5)).astype(np.float32)
    z, grad = shared_input_matmuls(transposed)(x, w)
    want = np.einsum("mi,kio->kmo", x, w.transpose(0, 2, 1) if transposed else w)
    np.testing.assert_allclose(z, want, rtol=1e-6, atol=1e-6)
    dw = np.einsum("mi,kmo->kio", x, 2 * want)
    np.testing.assert_allclose(grad, dw.transpose(0, 2, 1) if transposed else dw, rtol=1e-5, atol=1e-5)
    fgraph = shared_input_matmuls(transposed).maker.fgraph
    readers = [node for node, _ in fgraph.clients[fgraph.inputs[1]]]  # what reads w, forward and backward
    if transposed:  # one wide matmul of reshape(w, (-1, 6)).T: a view
        assert [type(n.op) for n in readers] == [Reshape] and rewritten_nodes(fgraph, readers[0])
    else:
        assert [type(n.op).__name__ for n in readers] == ["BatchedDot"]


def rewritten_nodes(fgraph, reshape):
    """Whether every reader of `reshape` (a 2-D reshape of w) is a 2-D transpose, a view."""
    return all(isinstance(n.op, DimShuffle) and tuple(n.op.new_order) == (1, 0)
               for n, _ in fgraph.clients[reshape.outputs[0]])


def test_a_shared_order_population_of_a_fully_connected_first_layer_copies_no_weights(mnist):
    """network3's fully connected first layer, on the shared input: no transposed copy of its weights."""
    from dlpy35.engine.layers import FullyConnectedLayer, SoftmaxLayer
    from dlpy35.engine.population import LayerPopulation

    (tx, ty), _, _ = mnist
    layers = [FullyConnectedLayer(784, 12), SoftmaxLayer(12, 10)]
    pop = LayerPopulation(layers, 10, [0, 1, 2], 0.1, mode="JAX", device="cpu", order="shared")
    pop.SGD((tx[:40], ty[:40]), 1)
    (step,) = [f for key, f in pop.trainer._fns.items() if key[:2] == ("train", "scan")]
    text = pytensor.printing.debugprint(step.maker.fgraph, file="str")
    assert "Transpose{axes=(1, 0, 2)}" not in text and "BatchedDot" in text


def _matmul_node(x_shape, y_shape, y_transposed_from=None):
    """What :func:`rewrites.shared_input_matmul_as_batched` reads of a matmul node: its two inputs (a
    stand-in node, so that shapes no matmul would build can be given too)."""
    from types import SimpleNamespace

    x = pt.tensor("x", dtype="float32", shape=x_shape)
    if y_transposed_from is not None:
        y = pt.tensor("w", dtype="float32", shape=y_transposed_from).transpose(0, 2, 1)
    else:
        y = pt.tensor("y", dtype="float32", shape=y_shape)
    return SimpleNamespace(inputs=[x, y])


@pytest.mark.parametrize("x_shape, y_shape, transposed_from", [
    ((4, 6), (3, 6, 5), None),           # a 2-D x: not a population's shared input
    ((1, 6), (3, 6, 5), None),           # a 2-D x of one row, likewise
    ((1, 4, 6), (6, 5), None),           # a 2-D y: one matrix, nothing stacked
    ((2, 4, 6), (3, 6, 5), None),        # x not shared (one input per network: own orders)
    ((1, 4, 6), (1, 6, 5), None),        # one matrix stacked: nothing to repeat x for
    ((1, 4, 6), (None, 6, 5), None),     # K not static
    ((1, None, 6), (3, 6, 5), None),     # the rows not static
    ((1, 4, 6), None, (3, 5, 6)),        # a conv layer's transposed filters: the wide matmul reads them
])
def test_the_shared_input_rewrite_leaves_every_other_matmul_alone(x_shape, y_shape, transposed_from):
    assert rewrites.shared_input_matmul_as_batched(_matmul_node(x_shape, y_shape, transposed_from)) is None


def test_the_shared_input_rewrite_makes_k_matmuls_of_the_one_input():
    node = _matmul_node((1, 4, 6), (3, 6, 5))
    (out,) = rewrites.shared_input_matmul_as_batched(node)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 4, 6)).astype(np.float32)
    y = rng.standard_normal((3, 6, 5)).astype(np.float32)
    got = pytensor.function(node.inputs, out, mode="FAST_COMPILE")(x, y)
    np.testing.assert_allclose(got, np.einsum("mi,kio->kmo", x[0], y), rtol=1e-6, atol=1e-6)

"""The PyTensor graph rewrites that dlpy35's own compiles apply, and the mode that applies them.

A population of one shared order multiplies one input by K stacked weight
matrices ``w`` (K, n_out, n_in).  PyTensor makes that one wide matmul with
``reshape(w.transpose(2, 0, 1), (n_in, -1))`` as its right operand: a transposed
copy of all K matrices at every step.  The same matrix is
``reshape(w, (-1, n_in)).T``: a free reshape and a transpose that the matmul
reads in place.  :func:`local_reshape_of_last_axis_first` makes that exchange;
it moves no number, so it changes no result.

Chapter 6's fully connected layers keep their weights ``w`` (n_in, n_out), as the
book does, and multiply ``x @ w``.  When such a layer reads the shared input (the
first layer of a shared-order population), PyTensor's wide matmul would need
``reshape(w.transpose(1, 0, 2), (n_in, -1))``, which no view gives: a transposed
copy of all K weight matrices at every step, forward, and another of their
gradients, backward.  :func:`local_shared_input_matmul_as_batched` makes it K
matmuls instead, which read ``w`` (and write the gradients) in place and repeat the
shared input K times (a mini-batch's rows, far fewer numbers than the weights).

The rewrites sit in PyTensor's rewrite databases under the tag :data:`TAG`
only, which no PyTensor mode includes: importing dlpy35 changes no other code's
compiles.  :func:`mode` is a PyTensor mode that includes them, the one
:meth:`dlpy35.engine.device.Device.function` compiles with.
"""

from __future__ import annotations

import functools

import pytensor.tensor as pt
from pytensor.compile import optdb
from pytensor.compile.mode import Mode, get_mode
from pytensor.graph.basic import Constant
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.blas import _batched_dot
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.math import _matmul
from pytensor.tensor.shape import Reshape

#: The rewrite's only tag: a mode applies it when it includes this tag (``mode.including(TAG)``).
TAG = "dlpy35"


def reshape_of_last_axis_first(node):
    """``reshape(w.transpose(d-1, 0, ..., d-2), (n, -1))`` -> ``reshape(w, (-1, n)).T``, n = w's last size.

    Both hold ``w[..., j]`` flattened in row i = j; only the second is a view of w.

    Parameters
    ----------
    node : pytensor.graph.basic.Apply
        A :class:`~pytensor.tensor.shape.Reshape` node.

    Returns
    -------
    list or None
        The node's replacement (one output), or None where it is no such reshape.
    """
    moved, shape = node.inputs
    if node.outputs[0].ndim != 2 or moved.owner is None or not isinstance(moved.owner.op, DimShuffle):
        return None
    (w,) = moved.owner.inputs
    n = w.type.shape[-1] if w.ndim >= 3 else None
    if n is None or tuple(moved.owner.op.new_order) != (w.ndim - 1, *range(w.ndim - 1)):
        return None
    if not isinstance(shape, Constant) or int(shape.data[0]) != n:  # rows other than w's last axis: no view
        return None
    return [pt.specify_shape(w.reshape((-1, n)).T, node.outputs[0].type.shape)]


def shared_input_matmul_as_batched(node):
    """``x @ y``, one ``x`` (1, m, n) for K matrices ``y`` (K, n, p) -> K matmuls of ``x`` repeated.

    Left alone where the wide matmul reads ``y`` in place: ``y`` the transposed
    matrices ``w.transpose(0, 2, 1)`` (a conv layer's filters, which
    :func:`reshape_of_last_axis_first` serves), and wherever a size is not static.

    Parameters
    ----------
    node : pytensor.graph.basic.Apply
        A matmul node.

    Returns
    -------
    list or None
        The node's replacement (one output), or None where it is no such matmul.
    """
    x, y = node.inputs
    if x.ndim != 3 or y.ndim != 3 or not x.type.broadcastable[0] or y.type.broadcastable[0]:
        return None
    k, (m, n) = y.type.shape[0], x.type.shape[1:]
    if None in (k, m, n):
        return None
    moved = y.owner is not None and isinstance(y.owner.op, DimShuffle)
    if moved and tuple(y.owner.op.new_order) == (0, 2, 1):
        return None
    return [_batched_dot(pt.broadcast_to(x, (k, m, n)), y)]


# The rewrites' work is in the plain functions above, which mutation testing can reach (mutmut leaves
# decorated functions alone); these are only PyTensor's wrappers of them.
@node_rewriter([Reshape])
def local_reshape_of_last_axis_first(fgraph, node):
    """:func:`reshape_of_last_axis_first` as a PyTensor node rewriter of Reshape nodes."""
    return reshape_of_last_axis_first(node)


@node_rewriter([_matmul])
def local_shared_input_matmul_as_batched(fgraph, node):
    """:func:`shared_input_matmul_as_batched` as a PyTensor node rewriter of matmul nodes."""
    return shared_input_matmul_as_batched(node)


# Before "specialize", where PyTensor's own rewrite would make the wide matmul first.
optdb["canonicalize"].register(local_shared_input_matmul_as_batched.__name__,
                               local_shared_input_matmul_as_batched, TAG, use_db_name_as_tag=False)

# Not `register_specialize`, which adds "fast_run", a tag every PyTensor mode includes; and
# without the database's name, "specialize", as a tag, so that only TAG or the name includes it.
optdb["specialize"].register(local_reshape_of_last_axis_first.__name__, local_reshape_of_last_axis_first, TAG,
                             use_db_name_as_tag=False)


@functools.cache
def mode(name: str) -> Mode:
    """The PyTensor mode `name` (``"JAX"``, ``"NUMBA"``...) with dlpy35's rewrite included.

    Parameters
    ----------
    name : str
        A PyTensor mode name, as :func:`pytensor.compile.mode.get_mode` takes it.

    Returns
    -------
    Mode
        The same linker and rewrites, plus those tagged :data:`TAG`.
    """
    return get_mode(name).including(TAG)

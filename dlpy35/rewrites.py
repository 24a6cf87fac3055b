"""A PyTensor graph rewrite that dlpy35 adds to the ones PyTensor applies when it compiles.

A population of one shared order multiplies one input by K stacked weight
matrices ``w`` (K, n_out, n_in).  PyTensor makes that one wide matmul with
``reshape(w.transpose(2, 0, 1), (n_in, -1))`` as its right operand: a transposed
copy of all K matrices at every step.  The same matrix is
``reshape(w, (-1, n_in)).T``: a free reshape and a transpose that the matmul
reads in place.  :func:`local_reshape_of_last_axis_first` makes that exchange;
it moves no number, so it changes no result.  Registered with PyTensor's
``specialize`` rewrites on import (the device module imports it).
"""

from __future__ import annotations

import pytensor.tensor as pt
from pytensor.graph.basic import Constant
from pytensor.graph.rewriting.basic import node_rewriter
from pytensor.tensor.elemwise import DimShuffle
from pytensor.tensor.rewriting.basic import register_specialize
from pytensor.tensor.shape import Reshape


@register_specialize
@node_rewriter([Reshape])
def local_reshape_of_last_axis_first(fgraph, node):
    """``reshape(w.transpose(d-1, 0, ..., d-2), (n, -1))`` -> ``reshape(w, (-1, n)).T``, n = w's last size.

    Both hold ``w[..., j]`` flattened in row i = j; only the second is a view of w.
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

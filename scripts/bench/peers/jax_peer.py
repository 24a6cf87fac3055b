"""JAX peer: ``jax.jit`` of a ``lax.scan`` over an epoch's mini-batches.

The same math as dlpy35 -- sigmoid layers, quadratic cost summed over the
mini-batch, ``jax.grad``, ``p -= (eta/m) grad`` -- in float32 with the training
data placed on JAX's default device once.  Each epoch sends only its
permutation, as an (n_batches, m) int32 index matrix, gathered on the device.
"""

from __future__ import annotations

import numpy as np

from .base import elapsed, result, timed


def _functions(eta):
    """``(epoch, step, predict)``: jitted scan epoch, single step, and forward pass."""
    import jax
    import jax.numpy as jnp
    from jax import lax

    def forward(params, x):
        for w, b in params:
            x = jax.nn.sigmoid(x @ w.T + b)
        return x

    def cost(params, x, y):
        return 0.5 * jnp.sum(jnp.square(forward(params, x) - y))

    def step(params, rows, data_x, data_y):
        grads = jax.grad(cost)(params, data_x[rows], data_y[rows])
        scale = jnp.float32(eta / rows.shape[0])
        return jax.tree.map(lambda p, g: p - scale * g, params, grads)

    def epoch(params, batches, data_x, data_y):
        def body(p, rows):
            return step(p, rows, data_x, data_y), None

        return lax.scan(body, params, batches)[0]

    predict = jax.jit(lambda params, x: jnp.argmax(forward(params, x), axis=1))
    return jax.jit(epoch, donate_argnums=0), jax.jit(step, donate_argnums=0), predict


def train_jax(train_x, train_y1h, test_x, test_y, weights, biases, perms, m, eta):
    """(f) JAX ``jit`` + ``lax.scan``; parameters as for :func:`numpy_peer.train_book`."""
    import jax

    device = jax.devices()[0]
    put = lambda a, dtype=np.float32: jax.device_put(np.ascontiguousarray(a, dtype=dtype), device)  # noqa: E731
    params = [(put(w), put(np.ravel(b))) for w, b in zip(weights, biases, strict=True)]
    data_x, data_y = put(train_x), put(train_y1h)
    n = len(train_x)
    full, rest = divmod(n, m)
    epoch_fn, step_fn, predict = _functions(eta)

    args = (data_x, data_y)

    def compile_all():  # for the real shapes; runs nothing
        return (epoch_fn.lower(params, put(np.zeros((full, m)), np.int32), *args).compile() if full else None,
                step_fn.lower(params, put(np.zeros(rest), np.int32), *args).compile() if rest else None)

    (epoch_c, step_c), compile_seconds = timed(compile_all)

    def epoch(perm):
        nonlocal params
        if full:
            params = epoch_c(params, put(perm[: full * m].reshape(full, m), np.int32), *args)
        if rest:
            params = step_c(params, put(perm[full * m :], np.int32), *args)
        jax.block_until_ready(params)

    seconds = [elapsed(epoch, perm) for perm in perms]
    guesses = np.asarray(predict(params, put(test_x)))
    return result("JAX jit + lax.scan (f)", f"jax {jax.__version__} {device.platform} float32", seconds,
                  compile_seconds, int(np.sum(guesses == test_y)), len(test_y))

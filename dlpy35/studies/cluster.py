"""Work spread over a Ray cluster: each item a task, each result handed back as it finishes.

A sweep's populations (:mod:`dlpy35.studies.sweep`) and the book's rows
(:mod:`dlpy35.studies.reproduce`) are independent pieces of training; :func:`run_tasks`
sends each to a Ray worker (one GPU each where the cluster has GPUs) and tells the
caller as each ends, so that the caller saves it at once and a rerun keeps it.  The
address is probed first (:func:`check_ray_address`): Ray itself retries an address
where nothing answers for minutes.  Ray is optional (``pip install 'dlpy35[cluster]'``)
and imported only here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
import tempfile

from dlpy35.storage import caches

__all__ = ["run_tasks", "check_ray_address", "ray_endpoint"]

RAY_GCS_PORT, RAY_CLIENT_PORT = 6379, 10001  # what `ray start --head` listens on unless told otherwise
RAY_PROBE_SECONDS = 5.0


def run_tasks(function, items, address, finished):
    """``function(item)`` for each of `items` as a Ray task; ``finished(result)`` as each ends.

    Parameters
    ----------
    function : callable
        A function of an importable module (the workers import it by name).
    items : list
        One task each, submitted at once; the cluster runs as many at a time as it has room for.
    address : str
        ``auto`` (a running cluster, or the one this process started) or a cluster's address.
    finished : callable
        Told each result, in the order the tasks end, on this process.

    A task whose worker died is retried (three times); one that raised raises its own
    exception here, as it would have raised run locally.  If this process stops
    (an exception, Ctrl-C), the tasks not yet finished are cancelled: what
    `finished` was told stays.
    """
    ray = _connect(address)
    gpus = ray.cluster_resources().get("GPU", 0)
    task = ray.remote(num_gpus=1 if gpus else 0, max_retries=3)(_task)
    pending = [task.remote(function, item) for item in items]
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            try:
                result = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:  # the task's own error, not Ray's traceback of it
                raise exc.cause from None
            finished(result)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _task(function, item):
    """``function(item)`` on a worker, which keeps its JAX compiles as the ``dlpy35`` command does."""
    caches.keep_jax_compiles()
    return function(item)


def _connect(address):
    """The ``ray`` module, connected to the cluster at `address` (unless this process already is)."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"ray_address={address!r} needs Ray: pip install 'dlpy35[cluster]'") from None
    if not ray.is_initialized():
        check_ray_address(address)
        try:  # Ray's INFO lines and its workers' output would bury the command's own lines
            with _stderr_held_unless_it_fails():
                ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise ValueError(f"ray_address={address!r}: no Ray cluster answers ({exc}); start one with `ray "
                             "start --head`, or give the head's address") from None
    return ray


@contextlib.contextmanager
def _stderr_held_unless_it_fails():
    """Hold back what is written to file descriptor 2 while the block runs, and write it out once the
    block has succeeded: Ray's native client logs a line per retry while it fails to connect, which
    the one line of the ValueError replaces."""
    with tempfile.TemporaryFile() as held:  # unlinked from the start: never left behind
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        held.seek(0)
        os.write(2, held.read())


def ray_endpoint(address):
    """``(host, port)`` that a Ray address names (``HOST:PORT``, ``ray://HOST[:PORT]``, ``[IPv6]:PORT``),
    or None for ``auto`` and ``local`` (Ray finds those itself)."""
    if address in ("auto", "local"):
        return None
    client = address.startswith("ray://")
    hostport = address.removeprefix("ray://").rstrip("/")
    host, colon, port = hostport.rpartition(":") if not hostport.endswith("]") else ("", "", "")
    if not colon:
        host, port = hostport, str(RAY_CLIENT_PORT if client else RAY_GCS_PORT)
    if not port.isdigit() or not host:
        raise ValueError(f"ray_address={address!r}: not a Ray address; give auto, HOST:PORT or "
                         "ray://HOST:PORT")
    return host.strip("[]"), int(port)


def check_ray_address(address, timeout=RAY_PROBE_SECONDS):
    """ValueError, within `timeout` seconds, unless something listens at the Ray address `address`.

    Ray itself retries an address that does not answer for minutes, logging each
    try; a plain TCP connection says at once whether anything is there.
    """
    endpoint = ray_endpoint(address)
    if endpoint is None:
        return
    try:
        socket.create_connection(endpoint, timeout=timeout).close()
    except OSError as exc:
        timed_out = isinstance(exc, TimeoutError)
        why = f"no answer within {timeout:g} s" if timed_out else exc.strerror or repr(exc)
        raise ValueError(f"ray_address={address!r}: no Ray cluster answers at {endpoint[0]}:{endpoint[1]} "
                         f"({why}); start one with `ray start --head`, or give the head's address") from None

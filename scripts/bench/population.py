"""Net-epochs per second of a population of K networks, against K separate runs and a JAX ``vmap`` peer.

For each order (``--orders``: each network its own shuffles, or one shared
order) and each K: a :class:`dlpy35.engine.population.Population` of K ``--sizes``
networks (seeds 0..K-1, quadratic cost, eta 3.0, mini-batch
``--mini-batch-size``) trains ``--epochs`` epochs on ``--n-train`` images, and
its fastest epoch counts; compilation and the warm-up are excluded.  *Separate
runs* is one ``network2.Network`` of the same settings, timed the same way just
before each population: K separate runs take K times its epoch.  The JAX peer
is ``jax.vmap`` of the same math's ``lax.scan`` epoch
(:mod:`bench.peers.jax_peer`) over K stacked networks, with K index matrices
(own orders) or one (a shared order).  One run, one heavy job at a time:
compare the ratios, not the seconds.

``--net NAME`` times one of chapter 6's networks instead (``dlpy35 train-conv --net NAME
--ensemble K [--order shared]``: a :class:`dlpy35.engine.population.LayerPopulation` with
the preset's eta and lambda, ``--dropout`` its dropout form) against ``network3.Network``
alone; there is no vmap peer.

Usage::

    python scripts/bench.py --population
    python scripts/bench.py --population --ks 1 4 16 64 256 1024 4096 --device cuda   # on a GPU
    python scripts/bench.py --population --net conv1 --ks 5 --orders shared --n-train 2000 --epochs 2
"""

from __future__ import annotations

import itertools
import time

import numpy as np

from dlpy35.chapter6 import DROPOUT_PRESET, PRESETS
from dlpy35.text import plural

from . import cli, results
from .peers.jax_peer import _functions


def parser():
    p = cli.Parser(__doc__)
    p.add_argument("--ks", type=cli.positive_int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64], metavar="K",
                   help="population sizes (default %(default)s)")
    cli.add(p, "sizes", [784, 30, 10])
    cli.add(p, "mini_batch_size", 10)
    cli.add(p, "n_train", 10_000)
    cli.add(p, "epochs", 2, "timed epochs per K; the fastest counts (default %(default)s)")
    cli.add(p, "modes", ["JAX"])
    p.add_argument("--orders", nargs="+", choices=("own", "shared"), default=["own", "shared"],
                   help="each network's own shuffles, one shared order, or both (default: both)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    p.add_argument("--net", choices=sorted(PRESETS), default=None,
                   help="a chapter-6 network (train-conv's --net) instead of --sizes; no vmap peer")
    p.add_argument("--dropout", action="store_true", help="with --net: its dropout form (train-conv's)")
    p.add_argument("--no-vmap", action="store_true", help="leave out the JAX vmap peer")
    cli.add(p, "data_dir")
    cli.add(p, "json", "runs/bench_population.json")
    return p


def conv_settings(args):
    """``(layers, eta, lmbda)`` of ``--net`` (and ``--dropout``), as ``dlpy35 train-conv`` trains it."""
    from dlpy35.chapter6 import book_layers

    preset = DROPOUT_PRESET if args.dropout else PRESETS[args.net]
    return book_layers(args.net, args.mini_batch_size, args.dropout), preset["eta"], preset["lmbda"]


def time_population(k, train, args, mode, order):
    """``(fastest epoch seconds, compile seconds)`` of a population of `k`."""
    from dlpy35.engine.population import LayerPopulation, Population

    seeds, where = list(range(k)), {"mode": mode, "device": args.device, "order": order}
    if args.net:
        layers, eta, lmbda = conv_settings(args)
        pop = LayerPopulation(layers, args.mini_batch_size, seeds, eta, lmbda, **where)
        histories = pop.SGD(train, args.epochs)
    else:
        pop = Population(args.sizes, seeds, 3.0, **where)
        histories = pop.SGD(train, args.epochs, args.mini_batch_size)
    return min(h["seconds"] for h in histories[0]), pop.trainer.compile_seconds


class Separate:
    """One network alone (``network2``), the same settings: K separate runs take K times its epoch.

    Each :meth:`time` trains it ``--epochs`` more epochs, so every row of the
    table is measured beside its own separate run (the machine's speed drifts).
    """

    def __init__(self, train, args, mode):
        from dlpy35 import network2, network3

        self.train, self.args = train, args
        if args.net:
            layers, self.eta, self.lmbda = conv_settings(args)
            self.net = network3.Network(layers, args.mini_batch_size, seed=0, mode=mode, device=args.device)
        else:
            self.net = network2.Network(args.sizes, cost="quadratic", weight_init="large", seed=0, mode=mode,
                                        device=args.device)
            self.eta, self.lmbda = 3.0, 0.0

    def time(self):
        """``(fastest epoch seconds, compile seconds)`` of the next ``--epochs`` epochs."""
        a, net = self.args, self.net
        net.SGD(self.train, a.epochs, a.mini_batch_size, self.eta, lmbda=self.lmbda, verbose=False)
        seconds = [r.seconds for r in net.records] if a.net else net.history["seconds"]
        return min(seconds[-a.epochs:]), net.compile_seconds


def time_vmap(k, train, args, order):
    """Fastest epoch seconds of ``jax.vmap`` over `k` networks of the peer's scan epoch (full batches)."""
    import jax

    x, labels = train
    y = np.eye(args.sizes[-1], dtype=np.float32)[labels]
    m = args.mini_batch_size
    full = len(x) // m
    epoch, _, _ = _functions(3.0)
    shared = order == "shared"  # one index matrix for all: vmap makes the first layers one wide matmul
    batched = jax.jit(jax.vmap(epoch, in_axes=(0, None if shared else 0, None, None)))
    rng = np.random.default_rng(0)
    params = [(jax.numpy.asarray(rng.standard_normal((k, o, i)), np.float32),
               jax.numpy.asarray(rng.standard_normal((k, o)), np.float32))
              for i, o in zip(args.sizes[:-1], args.sizes[1:])]
    data = (jax.numpy.asarray(x), jax.numpy.asarray(y))
    seconds = []
    for e in range(args.epochs + 1):  # the first compiles
        perms = np.stack([rng.permutation(len(x))[: full * m].reshape(full, m) for _ in range(k)])
        perms = perms[0] if shared else perms
        start = time.perf_counter()
        params = batched(params, jax.numpy.asarray(perms, np.int32), *data)
        jax.block_until_ready(params)
        if e:
            seconds.append(time.perf_counter() - start)
    return min(seconds)


def network(args):
    """What the table says of the networks timed."""
    if args.net:
        return f"{args.net}{' + dropout' if args.dropout else ''}"
    return f"[{'-'.join(map(str, args.sizes))}]"


def main(argv=None):
    args = cli.parse(parser(), argv)
    info = results.machine_info()
    results.print_machine(info)
    (tx, ty), _, _ = cli.load_mnist(parser(), args.data_dir, args.n_train)
    train = (tx, ty)
    rows, table = [], []
    for mode in args.modes:
        separate = Separate(train, args, mode)
        for order, k in itertools.product(args.orders, args.ks):
            solo, _ = separate.time()
            pop, compile_s = time_population(k, train, args, mode, order)
            vmap = None if args.no_vmap or args.net else time_vmap(k, train, args, order)
            row = {"mode": mode, "order": order, "k": k, "population_epoch_s": pop, "compile_s": compile_s,
                   "separate_epoch_s": k * solo, "vmap_epoch_s": vmap,
                   "net_epochs_per_s": k / pop, "separate_net_epochs_per_s": 1 / solo,
                   "vmap_net_epochs_per_s": k / vmap if vmap else None, "speedup": solo * k / pop}
            rows.append(row)
            results.log(f"{mode} {order} K={k}: {pop:.3f} s/epoch, {k / pop:.2f} net-epochs/s, one network "
                        f"alone {solo:.3f} s/epoch: {row['speedup']:.2f}x separate runs")
            table.append([mode, order, str(k), f"{pop:.3f}", f"{k / pop:.2f}", f"{1 / solo:.2f}",
                          f"{k / vmap:.2f}" if vmap else "-", f"{row['speedup']:.2f}x", f"{compile_s:.1f}"])
    print(results.markdown(["mode", "order", "K", "s/epoch", "net-epochs/s", "separate runs", "JAX vmap peer",
                            "vs separate", "compile s"], table,
                           [f"\n{network(args)}, mini-batch {args.mini_batch_size}, "
                            f"{len(tx)} images per epoch, {args.device}; "
                            f"fastest of {plural(args.epochs, 'epoch')}"]))
    results.write(args.json, {"machine": info, "args": vars(args), "rows": rows})
    return 0

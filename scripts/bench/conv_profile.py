"""Where one SGD step of the book's conv nets spends its time in dlpy35 on JAX, op by op, one thread.

Each net trains ``--batches`` mini-batches of 10 real MNIST images per epoch in
a subprocess on one core with one thread (as :mod:`bench.conv` runs it), under JAX's
profiler.  Each compiled op's time per step is the least over ``--repeats``
traced epochs (:mod:`bench.peers.jax_ops`), so the table holds on a shared
machine; their sum is the step as XLA runs it, and the untraced epoch is
printed beside it.  "what" is the operation an op (or a fusion's root) came
from; a fusion can hold more, and the shape is its output's.  ``--ensemble K``
profiles K networks trained as one population (``train-conv --ensemble K``, of
``--order``), ``--dropout`` chapter 6's dropout form.

Usage::

    python scripts/bench.py --profile --network conv [--nets conv1] [--batches 100] [--repeats 5]
    python scripts/bench.py --profile --network conv --nets conv2-relu --dropout --ensemble 5
"""

from __future__ import annotations

import sys
import tempfile

from . import cli, results
from .conv import NETS, ONE_THREAD
from .peers import conv_peers
from .peers.base import run_peer


def parser():
    """The command line (see ``--help``)."""
    p = cli.Parser(__doc__)
    p.add_argument("--nets", nargs="+", choices=NETS, default=list(NETS), help="conv nets (default: both)")
    p.add_argument("--batches", type=cli.positive_int, default=100, metavar="N",
                   help="mini-batches per traced epoch (default %(default)s)")
    p.add_argument("--repeats", type=cli.positive_int, default=5, metavar="N",
                   help="traced epochs; each op's least time counts (default %(default)s)")
    p.add_argument("--ensemble", type=cli.positive_int, default=None, metavar="K",
                   help="K networks trained as one population (train-conv --ensemble K)")
    p.add_argument("--order", choices=("own", "shared"), default="shared",
                   help="with --ensemble: each network's own shuffles, or one shared order (default)")
    p.add_argument("--dropout", action="store_true", help="chapter 6's dropout form of each net")
    p.add_argument("--top", type=cli.positive_int, default=15, metavar="N",
                   help="ops shown per net; the rest are summed in one line (default %(default)s)")
    cli.add(p, "data_dir")
    cli.add(p, "json", "runs/profile_conv.json")
    return p


def table(profile, top):
    """One net's profile as a Markdown table: the `top` slowest ops, the rest in one line, and the sum."""
    ops = profile["ops"]
    total = sum(op["us"] for op in ops)
    rest = ops[top:]
    cells = [[op["op"], op["what"], op["shape"], f"{op['us']:.1f}", f"{100 * op['us'] / total:.1f}"]
             for op in ops[:top]]
    if rest:
        us = sum(op["us"] for op in rest)
        cells.append([f"{len(rest)} others", "", "", f"{us:.1f}", f"{100 * us / total:.1f}"])
    scale = conv_peers.EPOCH_IMAGES / 10
    note = (f"{profile['net']}: the ops sum to {total:.0f} us a step ({total * scale / 1e6:.2f} s per "
            f"50,000-image epoch); untraced, the epoch takes {profile['epoch_seconds']:.2f} s")
    return results.markdown(["op", "what", "shape", "us/step", "%"], cells, [note])


def main(argv=None):
    """Profile each net, print its table, write the JSON; returns 0."""
    args, (tx, ty), info = cli.start(parser(), argv)
    profiles = []
    for net in args.nets:
        with tempfile.TemporaryDirectory(prefix="conv-profile-") as tmp:
            conv_peers.save_problem(tmp, tx, ty, net, args.batches, k=args.ensemble, order=args.order,
                                    dropout=args.dropout)
            profile = run_peer(sys.executable, "conv_peers", "profile", tmp, args.repeats, env=ONE_THREAD,
                               one_core=True)
        profiles.append(profile)
        print(table(profile, args.top), flush=True)
    results.write(args.json, {"args": {"profile": True, "network": "conv", **vars(args)}, "machine": info,
                              "profiles": profiles})
    return 0

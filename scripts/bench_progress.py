#!/usr/bin/env python3
"""What a progress bar that moves with the work costs: an epoch's seconds with it and without.

One network (``--sizes``, the book's ``[784, 30, 10]`` by default) trains on MNIST's 50,000
training images in mini-batches of 10 at eta 3.0, its epochs timed three ways, in turn, so
that whatever else the machine does falls on all three alike:

- ``one call``: the epoch as one compiled ``scan`` call, no bar (the least an epoch costs);
- ``chunks``: the epoch in :func:`dlpy35.engine.trainer.epoch_chunks` calls, no bar: what
  ``--quiet`` and a log run (the device runs ahead; nothing waits);
- ``chunks + bar``: the same calls, a tqdm bar drawn (into memory, at every update, where a
  terminal's redraws at most every 0.1 s) after each chunk, once the device has finished it:
  what a terminal shows.

While the host waits for a chunk, the next one is already queued (the trainer keeps one in
flight), so the device does not wait for the bar; what the bar adds is the host's work, which
on a CPU shares the cores: the seconds spent drawing are printed too, as a share of the epoch
(a measure that other work on the machine blurs less than a difference of epochs).

It prints each way's median and fastest epoch over ``--repeats`` rounds, and the bar's cost
against each of the other two: the median over the rounds of the ratio of the round's epochs
(the three of a round run back to back, so other work on the machine falls on them alike),
and fastest against fastest.

Examples::

    python scripts/bench_progress.py
    python scripts/bench_progress.py --repeats 9 --device cuda
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from dlpy35.cli.common import ArgumentParser, add_data_flags, add_device_flags, positive_int, run  # noqa: E402

PROG = Path(__file__).name
WAYS = ("one call", "chunks", "chunks + bar")


class MemoryBar:
    """A tqdm bar drawn into memory on every update (as a terminal's, minus the terminal)."""

    enabled = True  # shown: the trainer waits for each chunk

    def __init__(self):
        from tqdm import tqdm

        self.bar = tqdm(total=1, file=io.StringIO(), mininterval=0, unit="batch")
        self.seconds = 0.0  # spent drawing

    def __call__(self, epoch, done, total):
        start = time.perf_counter()
        self.bar.total = total
        self.bar.update(done - self.bar.n)
        self.seconds += time.perf_counter() - start


def time_epochs(args):
    """Per way, the seconds of each of ``args.repeats`` epochs (one epoch of each way in turn), and the
    seconds the bar took to draw itself in each epoch with the bar."""
    from dlpy35.data import load_data
    from dlpy35.engine import trainer as engine
    from dlpy35.network import Network

    data = load_data(args.data_dir)
    net = Network(args.sizes, seed=0, device=args.device, mode=args.mode)
    print(f"{PROG}: {net.device.describe()}; sizes {args.sizes}, 50,000 images, mini-batch 10, "
          f"{engine.epoch_chunks(50000 // 10)} chunks per epoch", flush=True)
    chunks = engine.epoch_chunks
    seconds, drawing = {way: [] for way in WAYS}, []
    for _ in range(args.repeats + 1):  # the first round warms each way up and is not counted
        for way in WAYS:
            engine.epoch_chunks = (lambda full, most=10: 1) if way == "one call" else chunks
            progress = MemoryBar() if way == "chunks + bar" else None
            history = net.SGD(data.training, 1, 10, 3.0, progress=progress, verbose=False)
            seconds[way].append(history[0]["seconds"])
            if progress:
                drawing.append(progress.seconds)
    engine.epoch_chunks = chunks
    return {way: s[1:] for way, s in seconds.items()}, drawing[1:]


def main(argv=None) -> int:
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=positive_int, nargs="+", default=[784, 30, 10], help="the layers")
    p.add_argument("--repeats", type=positive_int, default=5, help="epochs timed per way")
    add_device_flags(p)
    add_data_flags(p, dataset=False)
    args = p.parse_args(argv)
    seconds, drawing = time_epochs(args)
    for way in WAYS:
        s = seconds[way]
        print(f"{way:>13}: median {statistics.median(s):.3f} s per epoch, fastest {min(s):.3f} s  "
              f"({', '.join(f'{x:.3f}' for x in s)})")
    bar = seconds["chunks + bar"]
    for way in WAYS[:2]:
        # each round's epochs ran back to back: their ratio is the least disturbed by other work
        ratios = [b / o for b, o in zip(bar, seconds[way])]
        print(f"the bar against {way}: {statistics.median(ratios) - 1:+.1%} (the median of the rounds' "
              f"ratios), {min(bar) / min(seconds[way]) - 1:+.1%} (fastest against fastest)")
    share = [d / s for d, s in zip(drawing, bar)]
    print(f"drawing the bar: median {statistics.median(drawing) * 1e3:.2f} ms per epoch, "
          f"{statistics.median(share):.2%} of the epoch (most {max(share):.2%})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main, PROG))

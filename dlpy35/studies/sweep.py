"""Sweeps: every combination of seeds, learning rates and lambdas, trained as populations.

A sweep is planned as *chunks*: the networks of one architecture (and either all
regularised or all not, so that in float64 on Numba each ends bit for bit where
it would alone; in float32 it ends there up to the rounding of the population's
batched kernels, see :mod:`dlpy35.engine.population`) in populations of at most
``population_size``.  Each chunk trains as one
:class:`dlpy35.engine.population.Population`, here or as a task on a Ray cluster, and
its results are saved under ``OUT/chunks/`` as it finishes, with the sweep's
identity (:func:`identity`): rerunning the same sweep into the same directory
skips the chunks already there, so a node that dies costs only its own chunk,
and a sweep of other settings (other data, dtype, epochs...) is refused there.
The whole is then written as ``epochs.csv`` and ``summary.csv``
(:mod:`dlpy35.storage.tables`) and plotted.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dlpy35.storage import tables
from dlpy35.storage.atomic import atomic_write
from dlpy35.storage.bounded import read_json
from dlpy35.storage.identity import key as short_key
from dlpy35.studies import cluster
from dlpy35.text import plural


@dataclass(frozen=True)
class Net:
    """One network of a sweep: its number, seed, learning rate, lambda and sizes."""

    net: int
    seed: int
    eta: float
    lmbda: float
    sizes: tuple


@dataclass
class Chunk:
    """Networks trained together as one population, and the settings they share."""

    nets: list
    settings: dict = field(default_factory=dict)

    @property
    def key(self):
        """A name for the chunk's results: the same networks and settings give the same key."""
        return short_key({"nets": [asdict(n) for n in self.nets], "settings": self.settings})

    @property
    def networks(self):
        """What the chunk trains, wherever it runs: its networks and :func:`identity`.  A sweep's
        ``sweep.json`` lists these, so that a rerun on another device is the same sweep."""
        return short_key({"nets": [asdict(n) for n in self.nets], "identity": identity(self.settings)})



def parse_seeds(tokens):
    """Seeds from tokens such as ``0-31`` (inclusive) or ``1 2 5``; ValueError naming a bad token."""
    seeds = []
    for token in tokens:
        first, dash, last = str(token).partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError(f"seeds: {token!r} is not a seed (an integer >= 0) or a range such as "
                             "0-31") from None
        if low < 0 or high < low:
            raise ValueError(f"seeds: {token!r} is an empty or negative range; write LOW-HIGH with "
                             "0 <= LOW <= HIGH, such as 0-31")
        seeds += range(low, high + 1)
    return distinct(seeds, "seeds")


def distinct(values, name):
    """`values` (numbers, or lists of layer sizes) when no two are equal; ValueError naming the first
    repeated one otherwise, as `name` (``3`` and ``3.0`` are equal: one network would train twice)."""
    seen = set()
    for value in values:
        key = tuple(value) if isinstance(value, (list, tuple)) else value
        if key in seen:
            shown = " ".join(map(str, value)) if isinstance(value, (list, tuple)) else f"{value:g}"
            raise ValueError(f"{name}: {shown} is given twice; each network needs its own")
        seen.add(key)
    return values


def check_grid(sizes_list, seeds, etas, lmbdas):
    """ValueError unless every architecture, seed, eta and lambda of a sweep is given once: a repeated
    one would train the same networks twice."""
    for name, values in (("sizes_list", sizes_list), ("seeds", seeds), ("etas", etas), ("lmbdas", lmbdas)):
        distinct(values, name)


def settings(epochs=30, mini_batch_size=10, n_train=None, cost="quadratic", init="large", dtype="float32",
             device="auto", mode=None, evaluation="validation", order="own", data_dir=None, dataset=None,
             data=None) -> dict:
    """The settings a sweep's networks share, as a chunk keeps them (JSON-ready: paths as text).

    Parameters
    ----------
    epochs, mini_batch_size : int
    n_train : int, optional
        Train on the first `n_train` images only (all for None).
    cost, init, dtype, device, mode, order
        As :class:`dlpy35.engine.population.Population` takes them (`init` is its ``weight_init``).
    evaluation : {"validation", "test"}
        The data evaluated after every epoch, on which the best epoch and network are picked.  With
        validation, the test set is evaluated too, and what was picked is reported on it.
    data_dir, dataset : path-like, optional
        As :func:`dlpy35.data.load_data` takes them: where a chunk's trainer loads its data.
    data : dlpy35.data.Dataset, optional
        The data loaded from there: its name and digest are recorded (``data_name``,
        ``data_digest``), and a chunk's trainer checks that it loads the same.
    """
    given = {"data_name": data.name, "data_digest": data.digest} if data is not None else {}
    return {"epochs": epochs, "mini_batch_size": mini_batch_size, "n_train": n_train, "cost": cost,
            "init": init, "dtype": dtype, "device": device, "mode": mode, "evaluation": evaluation,
            "order": order, "data_dir": str(data_dir) if data_dir else None,
            "dataset": str(dataset) if dataset else None, **given}


# Where and how a chunk trains, not what: a rerun may change them and keep the chunks' identity (a chunk's
# key still holds them, so a chunk is retrained, never refused, on another device or mode).
EXECUTION = ("device", "mode", "data_dir", "dataset")


def identity(settings) -> dict:
    """What defines a sweep's networks (:mod:`dlpy35.storage.identity`): its `settings` but the
    :data:`EXECUTION` ones; recorded in each chunk's results and compared on a rerun."""
    from dlpy35.storage import identity as run_identity

    return run_identity.identity(**{k: v for k, v in settings.items() if k not in EXECUTION})


#: The most a sweep's JSON file (a chunk's results, ``sweep.json``) may hold when read back.
JSON_BYTES = 1 << 28
#: The most epochs.csv rows one chunk keeps (all its networks' epochs), at a generous 1 KiB of JSON each:
#: its file stays within :data:`JSON_BYTES`.
CHUNK_ROWS = JSON_BYTES // 1024


def plan(sizes_list, seeds, etas, lmbdas, settings, population_size=None):
    """The chunks of a sweep: every (sizes, eta, lmbda, seed), grouped and split into populations;
    ValueError when one is given twice (:func:`check_grid`), or when a population keeps more
    rows than a chunk's file holds (:data:`CHUNK_ROWS`)."""
    check_grid(sizes_list, seeds, etas, lmbdas)
    sizes_list = [list(s) for s in sizes_list]
    nets = [Net(i, seed, float(eta), float(lmbda), tuple(sizes)) for i, (sizes, eta, lmbda, seed)
            in enumerate(itertools.product(sizes_list, etas, lmbdas, seeds))]
    chunks = []
    def kind(n):  # one architecture, all regularised or all not: see the module docstring
        return sizes_list.index(list(n.sizes)), n.lmbda > 0

    for _, group in itertools.groupby(sorted(nets, key=kind), key=kind):
        group = list(group)
        size = population_size or len(group)
        chunks += [Chunk(group[i:i + size], settings) for i in range(0, len(group), size)]
    largest, epochs = max((len(c.nets) for c in chunks), default=0), settings["epochs"]
    if largest * epochs > CHUNK_ROWS:
        raise ValueError(f"a population of {largest:,} networks for {epochs} epochs keeps "
                         f"{largest * epochs:,} epochs' results, more than a chunk's file holds "
                         f"({CHUNK_ROWS:,}); give population_size={CHUNK_ROWS // epochs} or fewer")
    return chunks


def population(chunk):
    """The :class:`dlpy35.engine.population.Population` that trains `chunk` (nothing allocated yet)."""
    from dlpy35.engine.population import Population

    s = chunk.settings
    return Population(list(chunk.nets[0].sizes), [n.seed for n in chunk.nets], [n.eta for n in chunk.nets],
                      [n.lmbda for n in chunk.nets], cost=s["cost"], weight_init=s["init"], dtype=s["dtype"],
                      mode=s["mode"], device=s["device"], order=s["order"])


def train_chunk(chunk, progress=None):
    """Train `chunk` as one population; its ``epochs.csv`` and ``summary.csv`` rows (JSON-ready).

    `progress` is the population's ``progress(epoch, done, total)`` (a bar, when run here).
    Runs wherever it is called -- here, or in a Ray worker, which loads the
    data from ``settings["data_dir"]`` (or ``"dataset"``) itself.
    """
    from dlpy35.data import load_data

    s = chunk.settings
    data = load_data(s["data_dir"], s.get("dataset"))
    if s.get("data_digest", data.digest) != data.digest:  # a Ray node may hold other files
        raise ValueError(f"{s['dataset'] or s['data_dir'] or 'MNIST'}: these data differ from the sweep's "
                         f"(digest {data.digest}, not {s['data_digest']}); give every node the same data")
    on_test = s["evaluation"] == "test"
    (tx, ty), evaluation = data.training, data.test if on_test else data.validation
    pop = population(chunk)
    start = time.perf_counter()
    n = s["n_train"]
    pop.SGD((tx[:n], ty[:n]), s["epochs"], s["mini_batch_size"], evaluation,
            test_data=None if on_test else data.test, progress=progress)
    rows, summary = chunk_rows(chunk, pop.records, pop.diverged, "evaluation" if on_test else "test")
    return {"key": chunk.key, "identity": identity(s), "epochs": rows, "summary": summary,
            "seconds": time.perf_counter() - start,
            "compile_seconds": pop.trainer.compile_seconds, "device": pop.device.describe()}


def chunk_rows(chunk, records, diverged, test="test"):
    """``(epochs.csv rows, summary.csv rows)`` of the trained `chunk`, from each network's records; `test`
    names the records' test set (``"evaluation"`` when the evaluated set is the test set)."""
    rows, summary = [], []
    for n, mine, d in zip(chunk.nets, records, diverged):
        head = (n.net, n.seed, n.eta, n.lmbda, n.sizes)
        rows += tables.epoch_rows(*head, mine, test=test)
        summary.append(tables.summary_row(*head, mine, d, test=test))
    return rows, summary


class Store:
    """The chunks' results under ``out/chunks/``, one JSON file each, written atomically."""

    def __init__(self, out):
        self.dir = Path(out) / "chunks"

    def path(self, chunk):
        return self.dir / f"{chunk.key}.json"

    def load(self, chunk):
        """The saved result of `chunk`, or None (absent, or not a complete result of this chunk)."""
        result = _complete(self.path(chunk))
        return result if result and result["key"] == chunk.key else None

    def check(self, settings):
        """Refuse (ValueError, one line) when a chunk saved here was trained under another identity
        (:func:`identity`) than `settings`', naming the first setting that differs and both values;
        unreadable or incomplete files are left to :meth:`load` (they are trained again)."""
        from dlpy35.storage.identity import check_same

        for path in sorted(self.dir.glob("*.json")):
            result = _complete(path)
            if result:
                check_same(result.get("identity"), identity(settings),
                           f"{path}: cannot reuse the chunks of {self.dir.parent}: this one",
                           "give another output directory, the settings they were trained with, or "
                           "overwrite=True to replace them", this="this sweep")

    def clear(self):
        """Remove every chunk saved here: the sweep they belong to is being replaced (``--overwrite``)."""
        for path in self.dir.glob("*.json"):
            path.unlink(missing_ok=True)

    def save(self, result):
        self.dir.mkdir(parents=True, exist_ok=True)
        with atomic_write(self.dir / f"{result['key']}.json", "w") as f:
            json.dump(result, f)


def _complete(path):
    """A chunk's complete result in `path`, or None (absent, unreadable, too large, or incomplete)."""
    try:
        result = read_json(path, JSON_BYTES)
    except (OSError, ValueError):
        return None
    return result if isinstance(result, dict) and {"key", "epochs", "summary"} <= result.keys() else None


#: The file in a sweep's directory that names its chunks.
MANIFEST = "sweep.json"
#: The files a sweep writes in its directory (besides ``chunks/``).
FILES = ("epochs.csv", "summary.csv", "sweep.png", MANIFEST)


def holds(out, chunks) -> bool:
    """Whether the directory `out` holds the sweep of `chunks`, which rerunning it continues.

    It does when its ``sweep.json`` names the same chunks or, in a sweep's directory
    from before ``sweep.json``, when the chunks saved there are all among them.
    """
    out = Path(out)
    try:
        listed = read_json(out / MANIFEST, JSON_BYTES)["chunks"]
        return sorted(listed) == sorted(c.networks for c in chunks)
    except FileNotFoundError:
        found = {path.stem for path in (out / "chunks").glob("*.json")}
        return bool(found) and found <= {c.key for c in chunks}
    except (OSError, ValueError, KeyError, TypeError):  # not a sweep's manifest: not this sweep
        return False


def write_manifest(out, chunks):
    """Write ``sweep.json``: what each of the sweep's chunks trains (:attr:`Chunk.networks`), which
    :func:`holds` reads."""
    with atomic_write(Path(out) / MANIFEST, "w") as f:
        json.dump({"chunks": [c.networks for c in chunks]}, f, indent=1)


def run(chunks, out, ray_address=None, log=print, progress=None):
    """Train the chunks not yet saved under `out` (here, or on Ray); every chunk's result, in plan order.

    `progress` goes to :func:`train_chunk` here; Ray's workers draw no bar.
    """
    store = Store(out)
    if chunks:
        store.check(chunks[0].settings)
    done = {c.key: r for c in chunks if (r := store.load(c)) is not None}
    todo = [c for c in chunks if c.key not in done]
    if done:
        log(f"{len(done)} of {plural(len(chunks), 'chunk')} already trained in {store.dir}; "
            f"training the other {len(todo)}")

    def finished(result):
        store.save(result)
        done[result["key"]] = result
        log(f"chunk {len(done)}/{len(chunks)}: {plural(len(result['summary']), 'network')} in "
            f"{result['seconds']:.1f} s ({result['device']})")

    if ray_address:
        cluster.run_tasks(train_chunk, todo, ray_address, finished)
    else:
        for chunk in todo:
            finished(train_chunk(chunk, progress))
    return [done[c.key] for c in chunks]


def gather(chunk_results):
    """``(epochs.csv rows, summary.csv rows)`` of all the chunks, by network number."""
    rows = sorted((r for c in chunk_results for r in c["epochs"]), key=lambda r: (r["net"], r["epoch"]))
    summary = sorted((r for c in chunk_results for r in c["summary"]), key=lambda r: r["net"])
    return rows, summary


def write(out, rows, summary):
    """``epochs.csv`` and ``summary.csv`` in `out`."""
    tables.write_csv(Path(out) / "epochs.csv", tables.EPOCH_COLUMNS, rows)
    tables.write_csv(Path(out) / "summary.csv", tables.SUMMARY_COLUMNS, summary)


def ranked(summary):
    """The summary's rows, best evaluation accuracy first (equal ones by network number), networks never
    evaluated last: the first is the sweep's pick."""
    trained = sorted((r for r in summary if r["best_correct"] != ""),
                     key=lambda r: (-r["best_correct"], r["net"]))
    return trained + [r for r in summary if r["best_correct"] == ""]


def _count(correct, total):
    return "-" if correct in ("", None) else f"{correct}/{total}"


def report(summary, evaluation="validation"):
    """The summary as text, ranked on the `evaluation` set (:func:`ranked`), each network's best epoch
    with its test accuracy there; then the pick, and what it scores on the test set."""
    lines = [f"{'net':>4} {'seed':>5} {'eta':>8} {'lmbda':>8} {'sizes':>14} {evaluation:>13} {'epoch':>5} "
             f"{'test':>13}"]
    rows = ranked(summary)
    for r in rows:
        state = f"  diverged in epoch {r['diverged']}" if r["diverged"] != "" else ""
        lines.append(f"{r['net']:>4} {r['seed']:>5} {r['eta']:>8g} {r['lmbda']:>8g} {r['sizes']:>14} "
                     f"{_count(r['best_correct'], r['evaluation_total']):>13} {r['best_epoch']:>5} "
                     f"{_count(r.get('test_correct'), r.get('test_total')):>13}{state}")
    if rows and rows[0]["best_correct"] != "":
        lines.append(picked(rows[0], evaluation))
    return "\n".join(lines)


def picked(row, evaluation="validation"):
    """The line that names the sweep's pick (a summary row) and its test accuracy at the epoch picked."""
    best = f"{100 * row['best_correct'] / row['evaluation_total']:.2f}%"
    test = row.get("test_correct")
    on_test = "" if test in ("", None) else f"; test accuracy there {100 * test / row['test_total']:.2f}%"
    line = (f"picked on {evaluation} data: net {row['net']} (seed {row['seed']}, eta {row['eta']:g}, "
            f"lmbda {row['lmbda']:g}, sizes {row['sizes']}), epoch {row['best_epoch']}: {best}{on_test}")
    if evaluation == "test":
        line += " (picked on the test data itself, its accuracy flatters it: use --evaluation validation)"
    return line

"""Mutation testing of the core with mutmut: run it (every mutant or a seeded sample), report the score.

mutmut (configured in ``setup.cfg``'s ``[mutmut]`` section: the core modules, the tests that
mirror them) makes small bugs in the code one at a time -- a ``<`` for a ``<=``, a ``+ 1``
for a ``- 1``, an argument dropped -- and runs the tests that reach the mutated function.
A mutant the tests fail on is *killed*; one they pass on *survived*.  The score of a
module is killed / (killed + survived + reached by no test), where a survivor listed in
``tests/mutation_accepted.txt`` (one line each: the mutant's name, then why it is
equivalent or accepted) leaves the count, and a timeout counts as killed.

Usage::

    python scripts/mutation.py                    # every mutant: hours on two cores
    python scripts/mutation.py --sample 40        # 40 mutants per module, drawn with --seed
    python scripts/mutation.py --report-only      # the report of the last runs
    python scripts/mutation.py --report-only --sample 40   # the report of that draw alone

Writes ``runs/mutation/report.md`` (the table and every unexplained survivor) and
``report.json``; exits 1 when the core's score is below ``--target``.  ``--out`` is checked
before any mutant runs: it replaces an earlier report there and no other file.
"""

from __future__ import annotations

import importlib.util
import json
import math
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlpy35.cli.common import USER_ERROR, ArgumentParser, finite_float, natural_int, positive_int  # noqa: E402
from dlpy35.storage.atomic import atomic_write  # noqa: E402  (the checkout's package, before any installed one)
from dlpy35.storage.bounded import read_bounded, read_json  # noqa: E402
from dlpy35.storage.outputs import Outputs  # noqa: E402
from dlpy35.text import plural  # noqa: E402

PROG = "scripts/mutation.py"

ACCEPTED = ROOT / "tests" / "mutation_accepted.txt"
#: mutmut's exit codes of a mutant's test run, as it reads them (mutmut.stats.status_by_exit_code).
STATUS = {1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout", None: "not run"}


#: The report's columns; its Markdown begins with their header (a file that begins otherwise is no report).
COLUMNS = ["module", "mutants", "run", "killed", "timeout", "survived", "no tests", "accepted", "score"]
REPORT_HEAD = "| " + " | ".join(COLUMNS) + " |"


def parser():
    p = ArgumentParser(__doc__, prog=PROG)
    p.add_argument("--sample", type=positive_int, default=None, metavar="N",
                   help="run N mutants per module at most")
    p.add_argument("--seed", type=natural_int, default=0, help="seeds the sample")
    p.add_argument("--max-children", type=positive_int, default=2, help="mutants tested at once")
    p.add_argument("--target", type=finite_float, default=0.90, help="the score the core must reach")
    p.add_argument("--report-only", action="store_true", help="report the results mutmut holds, run nothing")
    p.add_argument("--out", type=Path, default=ROOT / "runs" / "mutation", help="where the report goes")
    return p


#: The first step of ``mutmut run`` alone: make the mutants (so that a sample can name them), test none.
GENERATE = """
import os
from mutmut.__main__ import (copy_also_copy_files, copy_src_dir, create_mutants, set_mutant_under_test,
                             setup_source_paths, store_lines_covered_by_tests)
set_mutant_under_test("mutant_generation")
os.makedirs("mutants", exist_ok=True)
copy_src_dir()
copy_also_copy_files()
setup_source_paths()
store_lines_covered_by_tests()
create_mutants(2)
"""


def mutmut(*args):
    """Run ``mutmut ARGS`` in the checkout (where its setup.cfg section is); its exit status."""
    return subprocess.call([sys.executable, "-m", "mutmut", *args], cwd=ROOT)


def mutants(root=ROOT / "mutants"):
    """``{module: {mutant name: status}}`` from mutmut's files under `root`."""
    found = {}
    for meta in sorted(root.rglob("*.py.meta")):
        module = str(meta.relative_to(root)).removesuffix(".meta")
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        found[module] = {name: STATUS.get(code, "suspicious") for name, code in codes.items()}
    return found


def accepted(path=ACCEPTED):
    """``{mutant name: reason}`` from `path` (``name  reason`` per line; ``#`` lines are comments)."""
    out = {}
    for line in path.read_text().splitlines() if path.exists() else []:
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            out[name] = reason.strip()
    return out


def sample(found, n, seed):
    """At most `n` mutant names per module, drawn with `seed` (the same draw for the same mutants)."""
    rng = random.Random(seed)
    return [name for module in sorted(found) for name in rng.sample(sorted(found[module]),
                                                                      min(n, len(found[module])))]


def score(counts):
    """``(killed, counted, score or None)``: a timeout counts as killed; accepted, unrun ones not at all."""
    killed = counts["killed"] + counts["timeout"]
    counted = killed + counts["survived"] + counts["no tests"]
    return killed, counted, killed / counted if counted else None


def interval(killed, counted):
    """A 95% Wilson interval for a score measured on a sample of `counted` mutants."""
    if not counted:
        return None
    z, p = 1.96, killed / counted
    centre = (p + z * z / (2 * counted)) / (1 + z * z / counted)
    half = z * math.sqrt(p * (1 - p) / counted + z * z / (4 * counted * counted)) / (1 + z * z / counted)
    return centre - half, centre + half


def drawn(found, n, seed):
    """`found` cut to the mutants :func:`sample` draws: what mutmut holds of others (an earlier run's, a
    rerun by name) stays out of a sample's score."""
    names = set(sample(found, n, seed))
    return {module: {k: s for k, s in statuses.items() if k in names} for module, statuses in found.items()}


def report(found, ok, sampled=False):
    """``(markdown, json-able dict, the core's score)`` of the mutants' statuses (`sampled`: of a draw)."""
    rows, unexplained, total = [], [], Counter()
    for module, statuses in sorted(found.items()):
        # A survivor, or a mutant no test reaches, is either accepted (listed in `ok`) or unexplained.
        statuses = {n: "accepted" if s in ("survived", "no tests") and n in ok else s
                    for n, s in statuses.items()}
        counts = Counter(statuses.values())
        total.update(counts)
        killed, counted, value = score(counts)
        rows.append({"module": module, "mutants": len(statuses), "run": len(statuses) - counts["not run"],
                     **{k: counts[k] for k in ("killed", "timeout", "survived", "no tests", "accepted")},
                     "score": value})
        unexplained += [(n, s) for n, s in sorted(statuses.items()) if s in ("survived", "no tests")]
    killed, counted, value = score(total)
    low_high = interval(killed, counted)

    def line(r):
        return "| " + " | ".join(f"{r[h]:.1%}" if h == "score" and r[h] is not None else str(r[h])
                                 for h in COLUMNS) + " |"

    core = {"module": "**core**", "mutants": sum(r["mutants"] for r in rows),
            "run": sum(r["run"] for r in rows), **{k: total[k] for k in COLUMNS[3:8]}, "score": value}
    text = [REPORT_HEAD, "|" + "---|" * len(COLUMNS), *map(line, rows), line(core), ""]
    if low_high and (sampled or core["run"] < core["mutants"]):
        of = plural(core["mutants"], "drawn mutant" if sampled else "mutant")
        text.append(f"Sampled: {core['run']} of {of} run; the core's "
                    f"score lies in {low_high[0]:.1%}-{low_high[1]:.1%} (95% Wilson interval).")
    text += ["", f"Unexplained survivors ({len(unexplained)}); `mutmut show NAME` prints one's change:", ""]
    text += [f"- `{n}` ({s})" for n, s in unexplained]
    data = {"rows": rows, "core": core, "interval": low_high, "unexplained": unexplained}
    return "\n".join(text) + "\n", data, value


REPORTS = ("report.md", "report.json")


def check_out(out):
    """The directory `out` checked before any run, as dlpy35's commands check theirs: its report files,
    where there, are this script's earlier reports (replaced) and nothing else; ValueError in one line
    otherwise."""
    Outputs(replace=True).directory(out, "--out", REPORTS)
    for name in REPORTS:
        path = out / name
        if (path.exists() or path.is_symlink()) and not _is_report(path):
            raise ValueError(f"--out {out}: its {name} is not a mutation report; give another directory")
    return out


def _is_report(path):
    """Whether `path` holds one of :func:`report`'s files (its Markdown table, or its JSON object)."""
    try:
        if path.suffix == ".json":
            doc = read_json(path, 1 << 26)
            return isinstance(doc, dict) and {"rows", "core"} <= doc.keys()
        return read_bounded(path, 1 << 26).startswith(REPORT_HEAD.encode())
    except (OSError, ValueError):
        return False


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        check_out(args.out)
    except ValueError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return USER_ERROR
    if not args.report_only:
        if importlib.util.find_spec("mutmut") is None:
            print(f"{PROG}: mutmut is not installed; pip install -e '.[mutation]'", file=sys.stderr)
            return USER_ERROR
        try:
            if args.sample and subprocess.call([sys.executable, "-c", GENERATE], cwd=ROOT) != 0:
                return USER_ERROR
            chosen = sample(mutants(), args.sample, args.seed) if args.sample else []
            status = mutmut("run", "--max-children", str(args.max_children), *chosen)
        except KeyboardInterrupt:
            print(f"{PROG}: interrupted; the mutants tested so far keep their results (--report-only reports "
                  "them)", file=sys.stderr)
            return 130
        if status not in (0, 1):
            return status
    found = mutants()
    if not found:
        print(f"{PROG}: no mutants yet; run it without --report-only first", file=sys.stderr)
        return USER_ERROR
    ok = accepted()
    known = {n for statuses in found.values() for n in statuses}
    for name in sorted(set(ok) - known):
        print(f"warning: {ACCEPTED.name} lists {name}, which mutmut no longer makes", file=sys.stderr)
    if args.sample:
        found = drawn(found, args.sample, args.seed)
    text, data, value = report(found, ok, sampled=bool(args.sample))
    with atomic_write(args.out / "report.md", "w") as f:
        f.write(text)
    with atomic_write(args.out / "report.json", "w") as f:
        json.dump(data, f, indent=1)
    print(text)
    print(f"wrote {args.out / 'report.md'}")
    return 0 if value is not None and value >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())

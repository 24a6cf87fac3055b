"""Where a JAX-compiled training step's time goes, op by op, from JAX's profiler traces.

XLA runs a compiled function as a sequence of thunks (fusions, dots,
copies), and JAX's profiler records each execution.  Summing an op's
durations over a traced call and dividing by how many times it ran gives
its time per execution; inside a whole-epoch ``while`` loop that is its time
per step.  The least over several traced calls is kept, which makes the
table hold on a machine other jobs share (a preempted op only ever looks
slower).  The loop's ``while`` thunk itself contains the others and is left
out of the sum.
"""

from __future__ import annotations

import collections
import gzip
import json
import re
import tempfile
from pathlib import Path

#: ``  %name = f32[10,2880]{1,0} fusion(...), ... op_name="jit(f)/while/body/eval_jaxpr/dot_general"``
_INSTRUCTION = re.compile(r'^\s+%(\S+) = (\S+?\[[^\]]*\])\S*\s+(\w[\w-]*)\((.*)$', re.M)
_OP_NAME = re.compile(r'op_name="([^"]*)"')


def instructions(hlo_text):
    """``{name: (shape, what)}`` of an optimized HLO module's instructions.

    `what` is the jaxpr primitive the op came from (``dot_general``,
    ``reduce_max``...) when the HLO says, else the HLO opcode.
    """
    out = {}
    for name, shape, opcode, rest in _INSTRUCTION.findall(hlo_text):
        op_name = _OP_NAME.search(rest)
        out[name] = (shape, op_name.group(1).rsplit("/", 1)[-1] if op_name else opcode)
    return out


def op_times(trace_file, names):
    """``{op: (total microseconds, executions)}`` of the ops in `names` in one trace file."""
    with gzip.open(trace_file, "rt") as f:
        trace = json.load(f)
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    total, count = collections.Counter(), collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("name") in names:
            total[e["name"]] += e.get("dur", 0.0)
            count[e["name"]] += 1
    return {k: (total[k], count[k]) for k in total}


def profile(call, hlo_text, repeats=5, per_step_at_least=1):
    """Per-op microseconds per execution of `call()`, the least over `repeats` traced calls.

    Parameters
    ----------
    call : callable
        Runs the compiled function once and waits for its result.
    hlo_text : str
        The compiled function's optimized HLO (``jax.jit(f).lower(...).compile().as_text()``).
    repeats : int
        Traced calls; each op's least time per execution counts.
    per_step_at_least : int
        Ops that ran fewer times than this in a call (the once-per-epoch ops
        outside the loop) are left out.

    Returns
    -------
    list of dict
        ``{"op", "what", "shape", "us"}``, slowest first; the ``while`` loop itself excluded.
    """
    import jax

    names = {k: v for k, v in instructions(hlo_text).items() if not k.startswith("while")}
    best = {}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="jax-trace-") as tmp:
            jax.profiler.start_trace(tmp, create_perfetto_trace=True)
            try:
                call()
            finally:
                jax.profiler.stop_trace()
            [trace_file] = Path(tmp).rglob("*.trace.json.gz")
            for op, (us, n) in op_times(trace_file, names).items():
                if n >= per_step_at_least:
                    best[op] = min(best.get(op, float("inf")), us / n)
    rows = [{"op": op, "what": names[op][1], "shape": names[op][0], "us": us} for op, us in best.items()]
    return sorted(rows, key=lambda r: -r["us"])

"""``dlpy35 calibrate`` (``python -m dlpy35.cli.calibrate``): time JAX against NUMBA on this CPU once, and
report; the result picks the default CPU mode (:mod:`dlpy35.engine.calibrate`)."""

from __future__ import annotations

from dlpy35.cli.common import ArgumentParser, positive_int, run
from dlpy35.engine import calibrate


def main(argv=None, prog="python -m dlpy35.cli.calibrate") -> int:
    """Measure (once) and report; the exit status."""
    p = ArgumentParser(prog=prog, description=calibrate.__doc__.split("\n\n")[0])
    p.add_argument("--force", action="store_true", help="measure again even if a calibration is stored")
    p.add_argument("--steps", type=positive_int, default=calibrate.STEPS,
                   help=f"SGD steps per timed call (default {calibrate.STEPS})")
    p.add_argument("--repeats", type=positive_int, default=calibrate.REPEATS,
                   help=f"timed calls; the best counts (default {calibrate.REPEATS})")
    args = p.parse_args(argv)
    stored, _ = calibrate.cached()
    calibration = calibrate.calibrate(args.force, steps=args.steps, repeats=args.repeats, log=print)
    if calibration == stored:
        print("(stored result; --force measures again)")
    print(calibrate.report(calibration))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main, "python -m dlpy35.cli.calibrate"))

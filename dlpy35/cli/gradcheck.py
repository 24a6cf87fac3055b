"""``dlpy35 gradcheck`` (``python -m dlpy35.cli.gradcheck``): the three-way gradient check on several
shapes and both costs; exit status 1 when an error is above tolerance (:mod:`dlpy35.engine.gradcheck`)."""

from __future__ import annotations

import sys

from dlpy35.cli.common import ArgumentParser, positive_int, run
from dlpy35.engine import gradcheck
from dlpy35.engine.costs import CrossEntropyCost, QuadraticCost


def main(argv=None, prog="python -m dlpy35.cli.gradcheck") -> int:
    """Run the check; the exit status."""
    parser = ArgumentParser(prog=prog, description=gradcheck.__doc__.splitlines()[0])
    parser.add_argument("--batch", type=positive_int, default=3, help="examples per check (default 3)")
    parser.add_argument("--max-entries", type=positive_int, default=200,
                        help="finite-difference probes per parameter array (default 200)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    failed = False
    print(f"{'cost':<18}{'sizes':<20}{'symbolic vs hand':>18}{'symbolic vs FD':>16}{'hand vs FD':>12}")
    for cost in (QuadraticCost, CrossEntropyCost):
        for sizes in gradcheck.SHAPES:
            net, x, y = gradcheck.random_problem(sizes, args.batch, args.seed, cost)
            errs = gradcheck.check(net, x, y, max_entries=args.max_entries, seed=args.seed)
            bad = (errs["symbolic_vs_hand"] > gradcheck.SYMBOLIC_VS_HAND_TOL
                   or max(errs["symbolic_vs_fd"], errs["hand_vs_fd"]) > gradcheck.FD_TOL)
            failed |= bad
            print(f"{cost.name:<18}{str(sizes):<20}{errs['symbolic_vs_hand']:>18.2e}"
                  f"{errs['symbolic_vs_fd']:>16.2e}{errs['hand_vs_fd']:>12.2e}{'  FAIL' if bad else ''}")
    print(f"tolerances: symbolic vs hand {gradcheck.SYMBOLIC_VS_HAND_TOL:g}, vs finite differences "
          f"{gradcheck.FD_TOL:g} -> {'FAIL' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run(main, "python -m dlpy35.cli.gradcheck"))

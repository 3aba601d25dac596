"""`make chaos-test`: the Jepsen-style schedule of tests/python/chaos_cluster.py for several
seeds (random primary kills, replica kills and replica restarts under three WAIT-confirmed
writers). Prints each run's rounds and counts; exits non-zero on any lost or extra write.
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from chaos_cluster import chaos_run  # noqa: E402
from sentinel_cluster import keep_logs_on_failure  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--report")
    args = ap.parse_args()
    os.environ["STRATA_BIN"] = args.bin
    results = []
    failed = 0
    for run in range(args.runs):
        seed = args.seed + run
        with tempfile.TemporaryDirectory(prefix="strata-chaos-") as tmp:
            try:
                r = chaos_run(pathlib.Path(tmp), args.rounds, seed)
                r["ok"] = True
            except AssertionError as e:
                failed += 1
                r = {"seed": seed, "ok": False, "error": str(e)[:2000]}
                keep_logs_on_failure(tmp, os.path.dirname(args.report or "."))
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(results, f, indent=1)
    print(f"{args.runs - failed}/{args.runs} runs passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

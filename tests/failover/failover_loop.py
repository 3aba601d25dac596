"""`make failover-test`: N Sentinel failover rounds (tests/python/sentinel_cluster.py), each
with a fresh primary, two replicas and three redis-sentinel processes on 127.0.0.1. Prints
each round's acknowledged and lost writes and the failover time; exits non-zero on any loss.
"""

import argparse
import json
import os
import sys
import tempfile
import pathlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))

from sentinel_cluster import failover_round, keep_logs_on_failure  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--report")
    args = ap.parse_args()
    os.environ["STRATA_BIN"] = args.bin
    results = []
    failed = 0
    for run in range(1, args.runs + 1):
        with tempfile.TemporaryDirectory(prefix="strata-failover-") as tmp:
            try:
                r = failover_round(pathlib.Path(tmp))
                r["run"] = run
                r["ok"] = True
            except AssertionError as e:
                failed += 1
                r = {"run": run, "ok": False, "error": str(e)[:2000]}
                keep_logs_on_failure(tmp, os.path.dirname(args.report or "."))
        results.append(r)
        print(json.dumps(r), flush=True)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(results, f, indent=1)
    print(f"{args.runs - failed}/{args.runs} rounds passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

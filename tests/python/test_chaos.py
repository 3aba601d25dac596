"""The Jepsen-style schedule of `chaos_cluster`, short: three rounds (the first a primary
kill). `make chaos-test` runs longer schedules with several seeds."""

import os

from chaos_cluster import chaos_run


def test_random_kills_and_restarts_lose_no_wait_acknowledged_write(tmp_path):
    seed = int(os.environ.get("STRATA_CHAOS_SEED", "17"))
    result = chaos_run(tmp_path, rounds=3, seed=seed)
    print(result)
    assert result["acknowledged"] >= 200
    assert len(result["rounds"]) == 3

"""Fixtures: start the real `strata` binary on a free port with a temporary data directory.

The binary comes from $STRATA_BIN (set by scripts/test.sh). The bound address is read from
the server's first log line (`--port 0`), so there are no port races.
"""

import os
import queue
import subprocess
import threading
import time

import pytest
import redis

START_DEADLINE = 60.0


class StrataServer:
    def __init__(self, data_dir, extra=(), port=0, log_path=None):
        binary = os.environ.get("STRATA_BIN")
        if not binary:
            raise RuntimeError("set STRATA_BIN to the strata binary (scripts/test.sh does)")
        extra = list(extra)
        # scripts/test.sh runs the suite with the hot tier on and off.
        if os.environ.get("STRATA_HOT_TIER") and "--hot-tier" not in extra:
            extra += ["--hot-tier", os.environ["STRATA_HOT_TIER"]]
        self.proc = subprocess.Popen(
            [binary, "server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(data_dir), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = queue.Queue()

        log = open(log_path, "a") if log_path else None

        def drain():
            for line in self.proc.stdout:
                lines.put(line)
                if log:
                    log.write(line)
                    log.flush()

        threading.Thread(target=drain, daemon=True).start()
        deadline = time.monotonic() + START_DEADLINE
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                raise RuntimeError(f"strata did not start: {seen}")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(line)
            if "listening on " in line:
                addr = line.split("listening on ", 1)[1].split()[0]
                self.host, port = addr.rsplit(":", 1)
                self.port = int(port)
                break

    def client(self, **kwargs):
        return redis.Redis(host=self.host, port=self.port, **kwargs)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


@pytest.fixture
def server(tmp_path):
    s = StrataServer(tmp_path / "data")
    yield s
    s.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(server, request):
    client = server.client(protocol=request.param, decode_responses=True)
    yield client
    client.close()

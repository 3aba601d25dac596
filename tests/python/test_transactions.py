"""redis-py transactions: pipelines with MULTI/EXEC and the WATCH `transfer` pattern with
WatchError retries across threads."""

import threading

import redis


def test_transaction_pipeline(r):
    pipe = r.pipeline()  # transaction=True: MULTI/EXEC
    pipe.set("a", 1).incr("a").get("a")
    assert pipe.execute() == [True, 2, "2"]


def test_transfer_with_watch_and_retries(server):
    setup = server.client(decode_responses=True)
    setup.mset({"balance:x": 500, "balance:y": 500})
    retries = []

    def transfer(src, dst, times):
        client = server.client(decode_responses=True)
        done = 0
        while done < times:
            with client.pipeline() as pipe:
                try:
                    pipe.watch(src, dst)
                    amount = int(pipe.get(src))
                    pipe.multi()
                    if amount > 0:
                        pipe.decrby(src, 1)
                        pipe.incrby(dst, 1)
                    pipe.execute()
                    done += 1
                except redis.WatchError:
                    retries.append(1)

    threads = [threading.Thread(target=transfer, args=pair + (200,))
               for pair in [("balance:x", "balance:y"), ("balance:y", "balance:x")] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    total = int(setup.get("balance:x")) + int(setup.get("balance:y"))
    assert total == 1000

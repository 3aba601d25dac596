"""redis-py pub/sub: get_message, listen, patterns and run_in_thread, RESP2 and RESP3."""

import threading
import time

import pytest


def wait_for(pubsub, kind, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = pubsub.get_message(timeout=0.5)
        if msg and msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind} message")


@pytest.mark.parametrize("protocol", [2, 3])
def test_cache_invalidation_over_pubsub(server, protocol):
    client = server.client(protocol=protocol, decode_responses=True)
    pubsub = client.pubsub()
    pubsub.subscribe("invalidate")
    assert wait_for(pubsub, "subscribe")["channel"] == "invalidate"
    pubsub.psubscribe("user:*")
    assert wait_for(pubsub, "psubscribe")["channel"] == "user:*"  # redis-py puts it there
    publisher = server.client(decode_responses=True)
    assert publisher.publish("invalidate", "key:1") == 1
    msg = wait_for(pubsub, "message")
    assert (msg["channel"], msg["data"]) == ("invalidate", "key:1")
    assert publisher.publish("user:42", "updated") == 1
    msg = wait_for(pubsub, "pmessage")
    assert (msg["pattern"], msg["channel"], msg["data"]) == ("user:*", "user:42", "updated")
    assert publisher.pubsub_numsub("invalidate") == [("invalidate", 1)]
    assert publisher.pubsub_numpat() == 1
    pubsub.unsubscribe("invalidate")
    pubsub.punsubscribe("user:*")
    assert wait_for(pubsub, "unsubscribe")
    pubsub.close()


# redis-py's worker.stop() closes the socket under its own reader thread, which then logs
# an exception; that race is in the client and says nothing about the server.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_listen_and_run_in_thread(server):
    client = server.client(decode_responses=True)
    received = []
    done = threading.Event()

    def handler(message):
        received.append(message["data"])
        if len(received) == 100:
            done.set()

    pubsub = client.pubsub()
    pubsub.subscribe(events=handler)
    worker = pubsub.run_in_thread(sleep_time=0.01, daemon=True)
    publisher = server.client(decode_responses=True)
    deadline = time.monotonic() + 10
    while publisher.pubsub_numsub("events")[0][1] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    for i in range(100):
        publisher.publish("events", str(i))
    assert done.wait(30)
    worker.stop()
    assert received == [str(i) for i in range(100)]

    listener = client.pubsub()
    listener.subscribe("stream")
    it = listener.listen()
    assert next(it)["type"] == "subscribe"
    publisher.publish("stream", "a")
    assert next(it)["data"] == "a"
    listener.close()


def test_expired_key_listener(server):
    client = server.client(decode_responses=True)
    client.config_set("notify-keyspace-events", "Ex")
    pubsub = client.pubsub()
    pubsub.subscribe("__keyevent@0__:expired")
    wait_for(pubsub, "subscribe")
    client.set("session:1", "x", px=50)
    msg = wait_for(pubsub, "message")
    assert msg["data"] == "session:1"
    pubsub.close()

"""Nothing slow happens under the store lock: the stateless part of an invocation (tokenizing a large prompt,
drafting the answer) runs before the lock every other request waits on is taken."""

from __future__ import annotations

import threading
import time

from mockfabric import create_app
from mockfabric.clock import ManualClock
from mockfabric.config import Progression, Settings

from ..helpers import Api

LARGE_PROMPT = [{"role": "user", "content": "word " * 200_000}] * 11  # ~11 MB, each message at the 1 MiB limit


def test_a_10_mb_invocation_does_not_hold_the_store_lock() -> None:
    instant = Progression("instant")
    app = create_app(Settings(completion_mode="echo", lifecycle={"endpoint": instant, "service_instance": instant}), clock=ManualClock())
    api = Api(app.test_client(), {"X-Auth-Token": "lock"}, ManualClock())
    ws = api.workspace("lock-ws")
    model = api.model(ws)
    instance = api.instance(ws, model["id"], api.endpoint(ws, running=False), running=False)
    lock = app.extensions["mockfabric"].service.store.lock
    longest, stop = [0.0], threading.Event()

    def wait_for_the_lock_again_and_again() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            with lock:
                longest[0] = max(longest[0], time.perf_counter() - started)
            stop.wait(0.001)

    watcher = threading.Thread(target=wait_for_the_lock_again_and_again)
    watcher.start()
    try:
        body = {"messages": LARGE_PROMPT, "n": 16, "max_tokens": 32768, "stream": False}
        answer = api.ok("POST", f"/v1/workspaces/{ws}/services/instances/{instance}/invocations", body)
    finally:
        stop.set()
        watcher.join()
    assert answer["usage"]["prompt_tokens"] == 11 * (200_001 + 3)  # 200 000 words and the trailing space and len(answer["choices"]) == 16
    assert longest[0] < 0.1, f"another request waited {longest[0]:.3f} s for the store lock (it was ~0.9 s)"

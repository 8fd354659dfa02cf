"""kill -9 durability: how old is the oldest acknowledged write a crash loses, at 10 000 workspaces?

Each round starts `mockfabric serve --state-file` (pinned to one core) on a state of N workspaces, lets writers
create workspaces as fast as the server answers, records when each create was acknowledged, kills the server with
SIGKILL at a random moment, reads the state file back and measures, for every acknowledged create missing from it,
how long before the kill it was acknowledged. The bound (`persistence.DURABILITY_BOUND_SECONDS`, 0.5 s) holds when
no round loses a write older than that.

    python bench/durability.py --rounds 10 --workspaces 10000 [--json results/durability.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout as well as from an install

from mockfabric import create_app  # noqa: E402
from mockfabric.clock import ManualClock  # noqa: E402
from mockfabric.config import Settings  # noqa: E402
from mockfabric.persistence import DURABILITY_BOUND_SECONDS  # noqa: E402

TENANT = {"X-Auth-Token": "durability", "X-Project-Id": "durability", "Content-Type": "application/json"}
WRITERS = 2


@dataclass
class Round:
    workspaces_at_start: int
    acknowledged: int
    lost: int
    oldest_lost_ms: float  # how long before the kill the oldest lost write was acknowledged; 0 when none was lost
    state_bytes: int


def seed_state(count: int, path: Path) -> None:
    """A state file of `count` workspaces in the writers' tenant, made in-process (faster than over HTTP)."""
    app = create_app(Settings(seed=5), clock=ManualClock())
    client = app.test_client()
    for index in range(count):
        reply = client.post("/v1/workspaces", json={"name": f"seed-{index:06d}", "description": "d" * 40}, headers=TENANT)
        assert reply.status_code == 200, reply.data
    store = app.extensions["mockfabric"].service.store
    path.write_text(json.dumps(store.export()))  # export(), not snapshot(): the same script measures older commits too


def start(state_file: Path, server_core: str | None) -> tuple[subprocess.Popen[str], int]:
    pin = ["taskset", "-c", server_core] if server_core is not None and shutil.which("taskset") else []
    command = [*pin, sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--state-file", str(state_file)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if "serving on" not in line:
        process.kill()
        raise RuntimeError(f"the server did not start: {line} {process.stderr.read() if process.stderr else ''}")
    return process, int(line.split("serving on ", 1)[1].split()[0].rsplit(":", 1)[1])


def write_until(port: int, prefix: str, stop: threading.Event, acknowledged: dict[str, float]) -> None:
    """Create workspaces until `stop`; note each acknowledged name with the monotonic time its answer arrived."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    index = 0
    try:
        while not stop.is_set():
            index += 1
            name = f"{prefix}-{index:06d}"
            connection.request("POST", "/v1/workspaces", body=json.dumps({"name": name}), headers=TENANT)
            reply = connection.getresponse()
            reply.read()
            if reply.status == 200:
                acknowledged[name] = time.monotonic()
    except (OSError, http.client.HTTPException):
        return  # the kill
    finally:
        connection.close()


def one_round(number: int, seed_file: Path, folder: Path, rng: random.Random, server_core: str | None) -> Round:
    state_file = folder / f"round-{number}.json"
    shutil.copyfile(seed_file, state_file)
    process, port = start(state_file, server_core)
    stop, acknowledged = threading.Event(), {}  # type: ignore[var-annotated]
    writers = [threading.Thread(target=write_until, args=(port, f"r{number}w{w}", stop, acknowledged)) for w in range(WRITERS)]
    try:
        for writer in writers:
            writer.start()
        stop.wait(rng.uniform(1.0, 2.0))  # the crash moment is random: that is what is measured
        os.kill(process.pid, signal.SIGKILL)
        killed_at = time.monotonic()
    finally:
        stop.set()
        process.kill()
        process.communicate(timeout=15)
        for writer in writers:
            writer.join(timeout=15)
    saved = json.loads(state_file.read_bytes())
    names = {ws["entry"]["record"]["name"] for ws in saved["tenants"]["durability"]["workspaces"].values()}
    lost = [at for name, at in acknowledged.items() if name not in names]
    state_file.unlink()
    return Round(
        workspaces_at_start=sum(1 for name in names if name.startswith("seed-")),
        acknowledged=len(acknowledged),
        lost=len(lost),
        oldest_lost_ms=round((killed_at - min(lost)) * 1000, 1) if lost else 0.0,
        state_bytes=len(json.dumps(saved)),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--workspaces", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill moments")
    parser.add_argument("--server-core", default="0", help="taskset core for the server ('' = not pinned)")
    parser.add_argument("--json", help="write the rounds and the verdict here")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="mockfabric-durability-") as folder:
        seed_file = Path(folder) / "seed.json"
        seed_state(args.workspaces, seed_file)
        rounds = [one_round(n, seed_file, Path(folder), rng, args.server_core or None) for n in range(args.rounds)]
    worst = max(r.oldest_lost_ms for r in rounds)
    print(f"{'round':>5} {'start ws':>8} {'acked':>6} {'lost':>5} {'oldest lost ms':>14} {'state MB':>8}")
    for number, result in enumerate(rounds):
        print(
            f"{number:>5} {result.workspaces_at_start:>8} {result.acknowledged:>6} {result.lost:>5} "
            f"{result.oldest_lost_ms:>14.1f} {result.state_bytes / 1e6:>8.2f}"
        )
    bound_ms = DURABILITY_BOUND_SECONDS * 1000
    held = worst <= bound_ms
    print(f"oldest acknowledged write lost: {worst:.1f} ms (bound {bound_ms:.0f} ms): {'held' if held else 'BROKEN'}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rounds": [asdict(r) for r in rounds], "worst_ms": worst, "held": held}, indent=2))
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())

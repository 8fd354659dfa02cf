"""The cost of the access log: GET /v1/workspaces on one keep-alive connection, `mockfabric serve` (core 0) with and
without --quiet, alternating rounds (client on core 1). Usage: python bench/access_log.py"""

import http.client
import os
import subprocess
import sys
import time


def run(flags, port):
    p = subprocess.Popen(
        ["taskset", "-c", "0", sys.executable, "-m", "mockfabric", "serve", "--port", str(port), *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    p.stdout.readline()
    return p


def cost(port, n=3000):
    c = http.client.HTTPConnection("127.0.0.1", port)
    h = {"X-Auth-Token": "t", "X-Project-Id": "b"}
    for _ in range(200):
        c.request("GET", "/v1/workspaces", headers=h)
        c.getresponse().read()
    t = time.perf_counter()
    for _ in range(n):
        c.request("GET", "/v1/workspaces", headers=h)
        c.getresponse().read()
    return (time.perf_counter() - t) / n * 1e6


os.sched_setaffinity(0, {1})
a = run([], 18661)
b = run(["--quiet"], 18662)
try:
    r = [(cost(18661), cost(18662)) for _ in range(4)]
    print("logged us/req", [round(x[0]) for x in r], "quiet", [round(x[1]) for x in r])
finally:
    a.terminate()
    b.terminate()

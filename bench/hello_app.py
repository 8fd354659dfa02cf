"""Hello-world Flask app: the framework ceiling the WSGI-server comparison runs against."""

from __future__ import annotations

import json
import time

from flask import Flask, Response, request

app = Flask(__name__)


@app.get("/hello")
def hello() -> Response:
    return Response(json.dumps({"hello": "world"}), mimetype="application/json")


@app.get("/sse")
def sse() -> Response:
    chunks = int(request.args.get("n", 50))
    gap = float(request.args.get("ms", 20)) / 1000

    def events():
        for i in range(chunks):
            time.sleep(gap)
            yield f"data: {json.dumps({'i': i})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    return Response(events(), mimetype="text/event-stream")

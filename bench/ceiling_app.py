"""The framework ceiling: the benchmarked routes answered by a hello-world Flask app (constant small JSON), served
by the same server with the same settings as `mockfabric serve`."""

from __future__ import annotations

import json

from flask import Flask, Response

app = Flask(__name__)
WORKSPACE = json.dumps(
    {"id": "e935d0ef-f4eb-4b95-aff1-9d33ae9f57a6", "name": "apieworkspace", "description": "", "create_time": "2023-05-30T12:24:30.401Z"}
)


@app.get("/healthcheck")
def health() -> Response:
    return Response("OK", mimetype="text/plain")


@app.get("/v1/workspaces")
def list_workspaces() -> Response:
    return Response(json.dumps({"total": 1, "workspaces": [json.loads(WORKSPACE)]}), mimetype="application/json")


@app.post("/v1/workspaces")
def create_workspace() -> Response:
    return Response(WORKSPACE, mimetype="application/json")


@app.get("/v1/workspaces/<workspace_id>/endpoints/<endpoint_id>")
def show_endpoint(workspace_id: str, endpoint_id: str) -> Response:
    return Response(json.dumps({"id": endpoint_id, "name": "ep", "type": "inference", "status": "RUNNING"}), mimetype="application/json")

"""The contract harness: property-based requests generated from the contract (schemathesis + hypothesis), sent to a
target, and every answer checked against the contract — per operation, positive and negative, then sequences
driven by the contract's links. Findings become a drift report; nothing raises mid-run.

Checks: schemathesis's not_a_server_error, status_code_conformance, content_type_conformance,
response_schema_conformance, negative_data_rejection and positive_data_acceptance; plus ours: a schema-valid
request must not be refused as a schema violation (400 with dataartsfabric.00010001 / common.01000001 — other
400s are the service's documented business answers, e.g. not-found is 400), and every SSE answer is checked event by
event against ChatCompletionChunk and across events (mockfabric.testing.streams).
"""

from __future__ import annotations

import copy
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import hypothesis
import hypothesis.errors
import requests
from hypothesis import HealthCheck, Phase, given, settings

from ..contracts import load_document, public_contract
from .checks import MAX_STREAM_EVENTS, NEGATIVE_STATUSES, POSITIVE_STATUSES, finding_of, own_checks, request_of
from .deadline import AnswerDeadline, answer_deadline
from .drift import Finding, OperationResult, Report, answer_class
from .targets import NAME_PREFIX, Target

BUILTIN_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
)
BILLABLE = frozenset(
    {"CreateEndpoint", "UpdateEndpoint", "SubscribeEndpoint", "DeployServiceInstance", "UpdateServiceInstance", "InvokeModelService"}
)
GIVE_UP_AFTER = 8  # requests in a row without an answer after which the run stops sending
RECENT_WINDOW, RECENT_UNANSWERED = 32, 24  # ... or this many of the latest (1 in 8 answered); the window holds GIVE_UP_AFTER
Progress = Callable[[str], None]


class Harness:
    def __init__(
        self,
        target: Target,
        *,
        max_examples: int = 25,
        seed: int = 0,
        read_only: bool = False,
        allow_billable: bool = False,
        stateful: bool = True,
        stateful_examples: int | None = None,
        wait_timeout: float = 600.0,
        request_timeout: float = 60.0,
        progress: Progress | None = None,
        only: set[str] | None = None,
    ) -> None:
        self.target, self.max_examples, self.seed = target, max_examples, seed
        self.read_only, self.allow_billable, self.stateful = read_only, allow_billable, stateful
        self.stateful_examples = stateful_examples if stateful_examples is not None else max(5, max_examples // 2)
        self.wait_timeout, self.request_timeout = wait_timeout, request_timeout
        self.only = only
        self.gave_up: str | None = None  # why the run stopped sending: the target stopped answering
        self._recent: deque[bool] = deque(maxlen=RECENT_WINDOW)  # whether each of the latest requests got an answer
        self.progress = progress or (lambda line: None)
        self.session = target.session()
        self.known: dict[str, str] = {}
        self._scenario_tenant: str | None = None
        self._schema = _load_schema()
        self._checks = _builtin_checks()

    # --- the run -------------------------------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.monotonic()
        contract = public_contract()
        report = Report(self.target.describe(), self.seed, self.max_examples, self.read_only, self.allow_billable, {})
        for operation in sorted(contract.operations.values(), key=_order):
            report.operations[operation.operation_id] = OperationResult(
                operation.operation_id, operation.method, operation.path, operation.plane
            )
        try:
            if not self.read_only:
                self._create_known(report)
            for api_operation in sorted(self._operations(), key=lambda op: _order(contract.operations[op.definition.raw["operationId"]])):
                result = report.operations[api_operation.definition.raw["operationId"]]
                reason = self._skip_reason(result) or (f"not sent: {self.gave_up}" if self.gave_up else None)
                if reason:
                    result.skipped = reason
                    self.progress(f"  {result.operation:<28} skipped: {reason}")
                    continue
                self._fuzz(api_operation, result)
                self.progress(f"  {result.operation:<28} {result.requests:>5} requests, {len(result.findings)} finding(s)")
            if self.stateful and not self.read_only and not self.gave_up:
                self._run_stateful(report)
        finally:
            if not self.read_only and not self.gave_up:
                self._cleanup()
        report.seconds = time.monotonic() - started
        return report

    def _operations(self) -> Iterator[Any]:
        for result in self._schema.get_all_operations():
            yield result.ok()

    def _skip_reason(self, result: OperationResult) -> str | None:
        if self.only is not None and result.operation not in self.only:
            return "not selected"
        if self.read_only and result.method != "GET":
            return "read-only run"
        if result.operation in BILLABLE and not self.allow_billable:
            return "billable (pass --allow-billable)"
        return None

    # --- one operation -----------------------------------------------------------------------------------------
    def _fuzz(self, api_operation: Any, result: OperationResult) -> None:
        from schemathesis import GenerationMode

        known = self._known_path_parameters(api_operation, result)
        variants: list[dict[str, str] | None] = [None] + ([known] if known else [])
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in variants:
                strategy = api_operation.as_strategy(mode, path_parameters=path_parameters)
                self._explore(strategy, partial(self._exercise, result=result, mode=mode.value), result, mode.value)

    def _explore(self, strategy: Any, exercise: Callable[[Any], None], result: OperationResult, mode: str) -> None:
        @hypothesis.seed(self.seed)
        @settings(
            max_examples=self.max_examples,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def explore(case: Any) -> None:
            exercise(case)

        try:
            explore()
        except hypothesis.errors.Unsatisfiable:
            if mode != "negative":  # nothing to negate (no parameters, or all fixed to known ids) is no finding
                result.add(Finding(result.operation, "generation", "Unsatisfiable", "no valid request could be generated", mode, None, {}))
        except Exception as exc:  # hypothesis could not generate: a finding, not a crash
            result.add(Finding(result.operation, "generation", type(exc).__name__, str(exc)[:500], "-", None, {}))

    def _known_path_parameters(self, api_operation: Any, result: OperationResult) -> dict[str, str] | None:
        names = [p.name for p in api_operation.path_parameters]
        if not names or result.method == "DELETE":  # destructive calls only ever see generated (unknown) ids
            return None
        values = {name: self.known[name] for name in names if name in self.known}
        return values if len(values) == len(names) else None

    @property
    def _prefixes_names(self) -> bool:
        """Names get the cleanup prefix where the harness cannot start from an empty tenant: real or signed targets,
        and emulators where the credential fixes the project."""
        return self.target.is_real or bool(self.target.ak) or not self.target.isolated

    def _start_scenario(self) -> None:
        """Each stateful scenario starts from a clean slate: a tenant of its own on an emulator, so earlier scenarios'
        resources (a taken name, say) cannot change what the next one does (hypothesis replays must stay consistent)."""
        if not self._prefixes_names:
            self._scenario_tenant = f"{self.target.tenant or 'mfv'}-{secrets.token_hex(4)}"

    def _end_scenario(self) -> None:
        if self._prefixes_names:
            self._cleanup()  # on a real service, remove what the scenario created before the next one
        self._scenario_tenant = None

    def _call_kwargs(self, case: Any) -> dict[str, Any]:
        plane = case.operation.definition.raw.get("x-plane", "admin")
        kwargs: dict[str, Any] = {"headers": self.target.headers()}
        if self._scenario_tenant is not None:
            kwargs["headers"]["X-Project-Id"] = self._scenario_tenant
        if self.target.app is not None:
            kwargs["app"] = self.target.app
        else:
            kwargs.update(base_url=self.target.base_url(plane), session=self.session, timeout=self.request_timeout, allow_redirects=False)
        return kwargs

    def _exercise(self, case: Any, result: OperationResult, mode: str) -> None:
        if self.gave_up:
            return  # the target stopped answering: nothing more is sent
        if self._prefixes_names and mode == "positive":  # a negative case keeps its invalid name
            _prefix_names(case)
        kwargs = self._call_kwargs(case)
        try:
            with answer_deadline(self.request_timeout):
                response = case.call(**kwargs)
        except Exception as exc:  # a transport failure is a finding too (e.g. the server dropped the connection)
            self._no_answer(exc)
            result.requests += 1
            result.phases[mode] += 1
            result.statuses["no-response"] += 1
            result.answers["no-response"] += 1
            result.add(
                Finding(
                    result.operation,
                    "not_a_server_error",
                    "No response",
                    f"{type(exc).__name__}: {exc}"[:500],
                    mode,
                    None,
                    request_of(case, None),
                )
            )
            return
        self._recent.append(True)
        self._judge(case, response, result, mode, kwargs)

    def _no_answer(self, error: Exception) -> None:
        """Count one request that got no answer; GIVE_UP_AFTER in a row and the run stops sending (a target that
        stopped answering would otherwise hold the run for request_timeout a request, hours in all)."""
        self._recent.append(False)
        in_a_row = len(self._recent) >= GIVE_UP_AFTER and not any(list(self._recent)[-GIVE_UP_AFTER:])
        unanswered = self._recent.count(False)
        sparse = len(self._recent) == RECENT_WINDOW and unanswered >= RECENT_UNANSWERED
        if (in_a_row or sparse) and self.gave_up is None:
            count = f"{GIVE_UP_AFTER} requests in a row" if in_a_row else f"{unanswered} of the last {RECENT_WINDOW} requests"
            self.gave_up = f"the target stopped answering: {count} got {_no_answer_kind(error)}"
            left = "" if self.read_only else "; no cleanup was possible: workspaces named mfv-… it made may be left"
            self.progress(f"  giving up: {self.gave_up}{left}")

    def _judge(self, case: Any, response: Any, result: OperationResult, mode: str, kwargs: dict[str, Any]) -> None:
        from schemathesis.errors import FailureGroup

        result.requests += 1
        result.phases[mode] += 1
        result.statuses[str(response.status_code)] += 1
        content_type = (response.headers.get("content-type") or [""])[0]
        documented = _success_media(case.operation.definition.raw)
        result.answers[answer_class(response.status_code, response.content or b"", content_type, documented)] += 1
        transport = {k: v for k, v in kwargs.items() if k in ("app", "base_url", "session")}
        for check in self._checks:  # one at a time: a failure then names the check that found it
            try:
                case.validate_response(response, checks=[check], headers=kwargs.get("headers"), transport_kwargs=transport)
            except FailureGroup as group:
                for failure in group.exceptions:
                    result.add(finding_of(result.operation, check.__name__, failure, mode, response, case))
        for finding in own_checks(result.operation, case, response, mode):
            result.add(finding)

    # --- sequences ---------------------------------------------------------------------------------------------
    def _run_stateful(self, report: Report) -> None:
        harness = self
        stateful = OperationResult("stateful (links)", "-", "-", "-")
        report.operations["stateful (links)"] = stateful
        machine = self._schema.as_state_machine()

        class Bound(machine):  # type: ignore[misc, valid-type]
            def setup(self) -> None:
                harness._start_scenario()

            def teardown(self) -> None:
                harness._end_scenario()

            def get_call_kwargs(self, case: Any) -> dict[str, Any]:
                if harness._prefixes_names:
                    _prefix_names(case)  # before the request is sent
                return harness._call_kwargs(case)

            def validate_response(self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any) -> None:
                own = report.operations.get(case.operation.definition.raw.get("operationId", ""))
                if own is not None:
                    own.phases["stateful"] += 1
                harness._judge(case, response, stateful, "stateful", harness._call_kwargs(case))

        try:
            Bound.run(
                settings=settings(
                    max_examples=self.stateful_examples,
                    stateful_step_count=8,
                    database=None,
                    deadline=None,
                    derandomize=True,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
            )
        except Exception as exc:
            stateful.add(Finding(stateful.operation, "stateful", type(exc).__name__, str(exc)[:800], "stateful", None, {}))
        self.progress(f"  {'stateful (links)':<28} {stateful.requests:>5} requests, {len(stateful.findings)} finding(s)")

    # --- known resources, created and removed by the harness ---------------------------------------------------
    def _send(self, method: str, path: str, body: Any = None, plane: str = "admin") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", **self.target.headers()}
        if self.target.app is not None:
            reply = self.target.app.test_client().open(path, method=method, json=body, headers=headers)
            found = reply.get_json(silent=True)
            return reply.status_code, found if isinstance(found, dict) else None
        if self.gave_up:
            return 0, None
        base = self.target.base_url(plane)
        try:
            with answer_deadline(self.request_timeout):
                response = self.session.request(
                    method, f"{base}{path}", json=body, headers=headers, timeout=self.request_timeout, allow_redirects=False
                )
        except (
            requests.RequestException,
            AnswerDeadline,
        ) as exc:  # setup and cleanup go on without it; the verdict counts the run's answers
            self._no_answer(exc)
            return 0, None
        self._recent.append(True)
        try:
            answer = response.json()
        except ValueError:
            return response.status_code, None
        return response.status_code, answer if isinstance(answer, dict) else None

    def _wait_for(self, path: str, plane: str, status: str = "RUNNING") -> bool:
        deadline = time.monotonic() + self.wait_timeout
        while time.monotonic() < deadline:
            code, body = self._send("GET", path, plane=plane)
            if code == 200 and body and body.get("status") == status:
                return True
            if self.gave_up:
                return False
            time.sleep(0.5)  # a client polling an asynchronous resource, as the service asks
        return False

    def _create_known(self, report: Report) -> None:
        suffix = secrets.token_hex(4)
        code, workspace = self._send("POST", "/v1/workspaces", {"name": f"{NAME_PREFIX}{suffix}", "description": "mockfabric verify"})
        if code != 200 or not _has_ids(workspace, "id"):
            self.progress(f"  setup: could not create a workspace ({code or 'no answer'}): fuzzing with generated ids only")
            return
        ws = self.known["workspace_id"] = workspace["id"]
        code, model = self._send(
            "POST", f"/v1/workspaces/{ws}/models", {"name": f"{NAME_PREFIX}model-{suffix}", "type": "LLM_MODEL", "version": {"name": "v1"}}
        )
        if code == 200 and _has_ids(model, "id", "version_id"):
            self.known["model_id"], self.known["version_id"] = model["id"], model["version_id"]
        if not self.allow_billable:
            return
        endpoint = {
            "name": f"{NAME_PREFIX}endpoint-{suffix}",
            "type": "inference",
            "reserved_resource": {"mu": {"spec_code": "mu.llama3.8b", "min": 0, "max": 2}},
        }
        code, created = self._send("POST", f"/v1/workspaces/{ws}/endpoints", endpoint)
        if code != 200 or not _has_ids(created, "id") or not self._wait_for(f"/v1/workspaces/{ws}/endpoints/{created['id']}", "admin"):
            self.progress("  setup: the endpoint did not become RUNNING: instance operations use generated ids")
            return
        self.known["endpoint_id"] = created["id"]
        deploy = {"source": {"id": self.known.get("model_id", "")}, "name": f"{NAME_PREFIX}instance-{suffix}", "endpoint_id": created["id"]}
        code, instance = self._send("POST", f"/v1/workspaces/{ws}/services/instances", deploy, plane="ep")
        if code == 200 and _has_ids(instance, "id") and self._wait_for(f"/v1/workspaces/{ws}/services/instances/{instance['id']}", "ep"):
            self.known["instance_id"] = instance["id"]

    def _cleanup(self) -> None:
        """Delete every workspace whose name starts with the harness prefix, contents first (best effort, bounded)."""
        code, listed = self._send("GET", f"/v1/workspaces?name={NAME_PREFIX}&limit=100")
        if code != 200 or listed is None:
            return
        for workspace in _items(listed, "workspaces"):
            if str(workspace.get("name", "")).startswith(NAME_PREFIX):
                self._empty_workspace(str(workspace["id"]))

    def _empty_workspace(self, ws: str) -> None:
        """Delete the workspace's contents, then it; tried again until wait_timeout has passed (once at least)."""
        deadline = time.monotonic() + self.wait_timeout
        while not self.gave_up:
            _, instances = self._send("GET", f"/v1/workspaces/{ws}/services/instances?limit=100", plane="ep")
            for item in _items(instances, "service_instances"):
                self._send("DELETE", f"/v1/workspaces/{ws}/services/instances/{item['id']}", plane="ep")
            _, models = self._send("GET", f"/v1/workspaces/{ws}/models?limit=100")
            for item in _items(models, "models"):
                self._send("DELETE", f"/v1/workspaces/{ws}/models/{item['id']}")
            _, endpoints = self._send("GET", f"/v1/workspaces/{ws}/endpoints?limit=100")
            for item in _items(endpoints, "endpoints"):
                self._send("DELETE", f"/v1/workspaces/{ws}/endpoints/{item['id']}")
            if self._send("DELETE", f"/v1/workspaces/{ws}")[0] == 200 or time.monotonic() >= deadline:
                return
            time.sleep(1.0)  # asynchronous deletions on the service take their time


def _no_answer_kind(error: Exception) -> str:
    """What a request without an answer met, in words (the exception's class means nothing to a user)."""
    if isinstance(error, AnswerDeadline):
        return "no whole answer within --request-timeout (the target may only be slow: raise it)"
    if isinstance(error, requests.Timeout):
        return "no answer within --request-timeout (the target may only be slow: raise it)"
    if isinstance(error, requests.ConnectionError):
        return "a refused or dropped connection"
    return f"no answer ({type(error).__name__})"


def _success_media(operation: dict[str, Any]) -> tuple[str, ...]:
    """The media types the operation's 2xx answers are documented with."""
    responses = operation.get("responses") or {}
    return tuple(media for status, answer in responses.items() if str(status).startswith("2") for media in (answer.get("content") or {}))


def _has_ids(answer: dict[str, Any] | None, *names: str) -> bool:
    """Whether an answer names the ids a created resource must have (a target that is not the service may not)."""
    return answer is not None and all(isinstance(answer.get(name), str) and answer[name] for name in names)


def _items(answer: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """A list answer's items that carry an id (nothing, when the answer is not a list answer)."""
    listed = answer.get(key) if answer is not None else None
    return [item for item in listed if isinstance(item, dict) and isinstance(item.get("id"), str)] if isinstance(listed, list) else []


def _order(operation: Any) -> tuple[int, str]:
    """Reads and creates first, updates next, deletes last, so known resources live through the run."""
    rank = {"GET": 0, "POST": 1, "PUT": 2, "DELETE": 3}.get(operation.method, 1)
    return rank, operation.operation_id


def _load_schema() -> Any:
    import schemathesis

    config = schemathesis.Config.from_dict(
        {
            "checks": {
                "positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES},
                "negative_data_rejection": {"expected-statuses": NEGATIVE_STATUSES},
            }
        }
    )
    schema = schemathesis.openapi.from_dict(copy.deepcopy(load_document()), config=config)
    # Set on the project config the schema resolved (a top-level `max-stream-events` key did not reach it in 4.32).
    schema.config.max_stream_events = MAX_STREAM_EVENTS
    return schema


def _builtin_checks() -> list[Any]:
    """The built-in checks by name: `schemathesis.checks` answers every registered check's name, the Open API ones
    too (the module they are defined in is not public)."""
    from schemathesis import checks

    return [getattr(checks, name) for name in BUILTIN_CHECKS]


def _prefix_names(case: Any) -> None:
    """On a real service every name the harness sends carries the prefix, so cleanup can find what it created."""
    body = case.body
    named = isinstance(body, dict) and isinstance(body.get("name"), str) and not body["name"].startswith(NAME_PREFIX)
    if named and case.method.upper() in ("POST", "PUT"):
        limit = 32 if case.path == "/v1/workspaces" else 64
        body["name"] = (NAME_PREFIX + body["name"].replace(" ", ""))[:limit] or NAME_PREFIX + "x"

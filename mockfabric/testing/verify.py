"""`mockfabric verify` once its arguments are checked: run the harness, print and write what it found, and refuse
to call a run that could not test a pass."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace

import requests

from .deadline import AnswerDeadline, answer_deadline
from .drift import ANSWER_CLASSES, Report, summary_table
from .harness import Harness
from .reports import write_html, write_json, write_junit
from .targets import Target

NOT_REACHED_SHARE = 0.5  # a run whose answers are mostly not the service's own tested nothing (verify --help says so)
CHECK = {
    "no-such-api": "check --base-url's path (the admin plane's root, e.g. http://127.0.0.1:8080, no /v1) and --ep-url's",
    "refused": "check --token, or --ak/--sk/--project-id",
    "throttled": "the target throttled the run: lower --max-examples or raise its rate limit",
    "server-error": "the target is failing (look at its logs), or --base-url/--ep-url name another server",
    "no-response": "check the target is up and --base-url/--ep-url, or raise --request-timeout if it is slow",
    "other": "check --base-url and --ep-url name the service's planes",
}


def reached(report: Report) -> tuple[list[str], list[str]]:
    """(operations that got at least one answer that is the service's own, those that sent requests and got none).
    A 5xx counts as reached: the service answered, failing, and its findings make the run not conform; findings on
    answers that are not the service's (an HTML page, a throttling 429) do not."""
    exercised = [(name, r) for name, r in report.operations.items() if r.answers and name != "stateful (links)"]
    got = [n for n, r in exercised if r.answers["service"]]
    return got, [n for n, r in exercised if not r.answers["service"] and not r.answers["server-error"]]


HEALTH_CHECKS = frozenset({"ShowAdminHealthCheck", "ShowEpHealthCheck"})  # "OK" from anything proves nothing


def unsucceeded_planes(report: Report) -> list[str]:
    """The planes whose exercised operations got not one 2xx (the health checks aside): a server answering every
    request with an error body, or only its health check, has not shown it is the service. A read-only run judges
    the admin plane only: each of the ep plane's GETs needs the id of something the run did not create."""
    exercised: dict[str, int] = {}
    judged = ("admin",) if report.read_only else ("admin", "ep")  # read-only, every ep GET needs an id nothing made
    for name, result in report.operations.items():
        if name in HEALTH_CHECKS or not result.answers or result.plane not in judged:
            continue
        successes = sum(count for status, count in result.statuses.items() if status.startswith("2"))
        exercised[result.plane] = exercised.get(result.plane, 0) + successes
    return [plane for plane, successes in exercised.items() if not successes]


def unreached_verdict(report: Report) -> str | None:
    """Why the run tested nothing (one line, naming what to check), or None when it reached the service: at least
    half of all answers must be the service's own, and every exercised operation must get one."""
    answers: Counter[str] = Counter()
    for result in report.operations.values():
        answers.update(result.answers)
    total = sum(answers.values())
    if not total:
        return "no request was answered; check --base-url"
    foreign = total - answers["service"]
    if foreign >= NOT_REACHED_SHARE * total:
        kind, count = max(((k, v) for k, v in answers.items() if k != "service"), key=lambda kv: kv[1])
        label = {"refused": "credentials rejected", "no-such-api": "no such API", "other": "not the service"}.get(kind, kind)
        return (
            f"{label}: {foreign} of {total} answers were not the service's own ({count} {kind}: {ANSWER_CLASSES[kind]}), "
            f"so the run tested nothing; {CHECK[kind]}"
        )
    if failed := unsucceeded_planes(report):
        planes = " and ".join(f"the {plane} plane" for plane in failed)
        return (
            f"no request succeeded on {planes}: not one 2xx but the health check, so the run never showed it reached the "
            "service (a fresh tenant's lists and creations succeed); check --base-url, --ep-url and the credential"
        )
    _, missed = reached(report)
    if missed:
        got: Counter[str] = Counter()
        for name in missed:
            got.update(report.operations[name].answers)
        kind = got.most_common(1)[0][0]
        named = ", ".join(f"{name}: {report.operations[name].answers.most_common(1)[0][0]}" for name in missed[:8])
        return (
            f"{len(missed)} operation(s) never got an answer that is the service's own ({named}"
            f"{', ...' if len(missed) > 8 else ''}), so they were not tested; {CHECK[kind]}"
        )
    return None


def isolated_run(target: Target, note: Callable[[str], None], timeout: float = 30.0) -> Target:
    """The emulator target a run uses when no project was named: a fresh `mfv-…` tenant of its own (X-Project-Id,
    or the signed project) when the emulator lets the credential pick one, so the run starts from empty state and
    touches nobody else's; else, when the credential's project is fixed (`--auth strict` refuses another), no tenant
    at all: the run works in the credential's own project, names what it creates `mfv-…` and deletes it at the end,
    and `note` says so. One GET decides: a tenant of its own answered, not refused (401/403)."""
    own = replace(target, tenant="mfv-" + secrets.token_hex(6))
    if not _refused(own, timeout) or _refused(replace(target, tenant=None), timeout):
        return own  # refused either way: the verdict says the credential was rejected
    note(
        "  the credential's project is fixed (the emulator refuses another X-Project-Id): the run uses it, names what it "
        "creates mfv-… and deletes that at the end"
    )
    return replace(target, tenant=None)


def _refused(target: Target, timeout: float) -> bool:
    """Whether the target refuses (401/403) this target's credential and tenant on ListWorkspaces."""
    headers = {"Content-Type": "application/json", **target.headers()}
    try:
        with answer_deadline(timeout):
            answer = target.session().get(
                f"{target.admin_url}/v1/workspaces?limit=1", headers=headers, timeout=timeout, allow_redirects=False
            )
    except (requests.RequestException, AnswerDeadline):
        return False  # the run meets the same and says so
    return answer.status_code in (401, 403)


def run_verify(args: argparse.Namespace) -> int:
    """Exit code: 0 conforms, 1 findings, 2 the run could not test (unreached_verdict, or bad arguments)."""
    target = Target(
        kind="real" if args.real else "emulator",
        admin_url=args.base_url.rstrip("/"),
        ep_url=(args.ep_url or args.base_url).rstrip("/"),
        token=args.token,
        ak=args.ak,
        sk=args.sk,
        project_id=args.project_id,
        security_token=args.security_token,
        tenant=args.project_id,
    )
    print(f"mockfabric verify: {target.describe()} (seed {args.seed}, {args.max_examples} examples per operation and mode)", flush=True)
    if not (args.real or args.project_id):
        target = isolated_run(target, note=lambda line: print(line, flush=True), timeout=args.request_timeout)
    harness = Harness(
        target,
        max_examples=args.max_examples,
        seed=args.seed,
        read_only=args.read_only,
        allow_billable=args.allow_billable,
        stateful=args.stateful,
        wait_timeout=args.wait_timeout,
        request_timeout=args.request_timeout,
        progress=lambda line: print(line, flush=True),
    )
    report = harness.run()
    report.unreached = f"no-response: {harness.gave_up}; {CHECK['no-response']}" if harness.gave_up else unreached_verdict(report)
    for path, write in ((args.report, write_json), (args.junit_xml, write_junit), (args.html, write_html)):
        if path:
            try:
                write(report, path)
            except OSError as exc:
                print(f"mockfabric: cannot write {path}: {exc.strerror or exc}", file=sys.stderr, flush=True)
                return 2
    if report.unreached is not None:
        print(summary_table(report))
        print(f"mockfabric: {report.unreached}", file=sys.stderr, flush=True)
        return 2
    print(summary_table(report))
    for finding in report.findings:
        first_line = finding.message.splitlines()[0] if finding.message else ""
        request = f"{finding.request.get('method')} {finding.request.get('path')}"
        print(f"\n[{finding.operation}] {finding.check}: {finding.title} ({finding.occurrences}x)\n  {first_line}\n  request: {request}")
    got, _ = reached(report)
    print(
        f"\n{report.total_requests} generated requests in {report.seconds:.1f} s, {len(got)} operations answered by the service: "
        f"{'conforms' if report.passed else 'does NOT conform'}"
    )
    return 0 if report.passed else 1

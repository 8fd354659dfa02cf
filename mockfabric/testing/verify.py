"""`mockfabric verify` once its arguments are checked: run the harness, print and write what it found, and refuse
to call a run that could not test a pass."""

from __future__ import annotations

import argparse
import secrets
import sys

from .drift import Report, summary_table
from .harness import Harness
from .reports import write_html, write_json, write_junit
from .targets import Target

REJECTED = ("401", "403")


def count_rejected(report: Report) -> tuple[int, int]:
    """(answers that were 401/403, all answers) over every operation and phase."""
    answered = rejected = 0
    for result in report.operations.values():
        for status, count in result.statuses.items():
            if status.isdigit():
                answered += count
                rejected += count if status in REJECTED else 0
    return rejected, answered


def run_verify(args: argparse.Namespace, *, rejected_share: float) -> int:
    """Exit code: 0 conforms, 1 findings, 2 the run could not test (credentials rejected)."""
    target = Target(
        kind="real" if args.real else "emulator",
        admin_url=args.base_url.rstrip("/"),
        ep_url=(args.ep_url or args.base_url).rstrip("/"),
        token=args.token,
        ak=args.ak,
        sk=args.sk,
        project_id=args.project_id,
        security_token=args.security_token,
        tenant=args.project_id or ("mfv-" + secrets.token_hex(6)),
    )
    print(f"mockfabric verify: {target.describe()} (seed {args.seed}, {args.max_examples} examples per operation and mode)", flush=True)
    harness = Harness(
        target,
        max_examples=args.max_examples,
        seed=args.seed,
        read_only=args.read_only,
        allow_billable=args.allow_billable,
        stateful=args.stateful,
        wait_timeout=args.wait_timeout,
        progress=lambda line: print(line, flush=True),
    )
    report = harness.run()
    if args.report:
        write_json(report, args.report)
    if args.junit_xml:
        write_junit(report, args.junit_xml)
    if args.html:
        write_html(report, args.html)
    refused, answered = count_rejected(report)
    if answered and refused >= rejected_share * answered:
        print(
            f"mockfabric: credentials rejected: {refused} of {answered} answers were 401/403, so the run tested nothing; "
            "check --token, or --ak/--sk/--project-id",
            file=sys.stderr,
            flush=True,
        )
        return 2
    print(summary_table(report))
    for finding in report.findings:
        first_line = finding.message.splitlines()[0] if finding.message else ""
        request = f"{finding.request.get('method')} {finding.request.get('path')}"
        print(f"\n[{finding.operation}] {finding.check}: {finding.title} ({finding.occurrences}x)\n  {first_line}\n  request: {request}")
    print(f"\n{report.total_requests} generated requests in {report.seconds:.1f} s: {'conforms' if report.passed else 'does NOT conform'}")
    return 0 if report.passed else 1

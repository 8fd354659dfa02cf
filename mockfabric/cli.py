"""Command line: `mockfabric serve`."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence

from .config import AUTH_MODES, COMPLETION_MODES, ConfigError, load_settings, parse_bool, parse_hosts, parse_lifecycle


def _serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser(
        "serve",
        help="run the emulator (both planes on one base URL)",
        description="Run the emulator. Every flag can also be set as MOCKFABRIC_<FLAG> (flags win).",
    )
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    serve.add_argument("--threads", type=int, help="worker threads = concurrent requests and streams (default 512)")
    serve.add_argument("--workers", type=int, help="must be 1: the state lives in one process")
    serve.add_argument("--auth", choices=AUTH_MODES, help="credential checking (default: require a well-formed credential)")
    serve.add_argument("--seed", type=int, help="seed for ids and generated content")
    serve.add_argument(
        "--lifecycle",
        type=parse_lifecycle,
        help="progression per kind, e.g. endpoint=time:5,service_instance=polls:2 (policies: time, polls, manual, instant)",
    )
    serve.add_argument(
        "--validate-responses", dest="validate_responses", type=parse_bool, help="check every response against the contract (true/false)"
    )
    serve.add_argument("--catalog", help="YAML file with specs, base_models and features")
    serve.add_argument("--ttft-ms", dest="ttft_ms", type=int, help="time to first token of invocations, ms")
    serve.add_argument("--itl-ms", dest="itl_ms", type=int, help="inter-token latency of invocations, ms")
    serve.add_argument(
        "--completion-mode",
        dest="completion_mode",
        choices=COMPLETION_MODES,
        help="what invocations answer without a scripted answer: generate (seeded text, default) or echo (last user message)",
    )
    serve.add_argument(
        "--control-token", dest="control_token", help="token the control API requires (X-Mockfabric-Control-Token); mandatory off loopback"
    )
    serve.add_argument("--credentials", help="YAML/JSON file of identities (AK/SK or tokens -> project and user names)")
    serve.add_argument(
        "--state-file",
        dest="state_file",
        help="keep the state in this JSON file: loaded at start, saved atomically after changes and at exit",
    )
    serve.add_argument(
        "--allowed-hosts",
        dest="allowed_hosts",
        type=parse_hosts,
        help="Host names served besides loopback ones, comma-separated (e.g. fabric.test), or * for any; "
        "guards against DNS rebinding (default: loopback names only, any host when a control token is set)",
    )
    serve.add_argument(
        "--journal-bytes",
        dest="journal_bytes",
        type=int,
        help="memory the request journal may hold, in bytes (default 33554432 = 32 MiB); the oldest entries go first",
    )
    serve.add_argument(
        "--shutdown-timeout", dest="shutdown_timeout", type=float, help="seconds in-flight requests get to finish on SIGTERM (default 10)"
    )


def _verify_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    verify = sub.add_parser(
        "verify",
        help="check a running emulator or the real service against the contract",
        description="Property-based contract verification (schemathesis + hypothesis). Exit 0 only when everything conformed.",
    )
    verify.add_argument("--base-url", required=True, help="admin plane base URL (an emulator serves both planes here)")
    verify.add_argument("--ep-url", help="ep plane base URL of the real service (default: --base-url)")
    verify.add_argument("--token", help="X-Auth-Token to send")
    verify.add_argument("--ak", help="access key: requests are signed with huaweicloudsdkcore's signer")
    verify.add_argument("--sk", help="secret key (with --ak)")
    verify.add_argument("--project-id", dest="project_id", help="project id (with --ak/--sk; X-Project-Id otherwise)")
    verify.add_argument("--security-token", dest="security_token", help="X-Security-Token of temporary credentials")
    verify.add_argument(
        "--real", action="store_true", help="the target is the real service: force the name prefix on every created resource"
    )
    verify.add_argument(
        "--max-examples", dest="max_examples", type=int, default=25, help="generated requests per operation, mode and variant"
    )
    verify.add_argument("--seed", type=int, default=0, help="hypothesis seed (the same seed sends the same requests)")
    verify.add_argument("--read-only", dest="read_only", action="store_true", help="only GET operations; creates nothing")
    verify.add_argument(
        "--allow-billable",
        dest="allow_billable",
        action="store_true",
        help="also run operations that cost money on the real service (endpoints, deployments, invocations)",
    )
    verify.add_argument("--no-stateful", dest="stateful", action="store_false", help="skip the sequences driven by the contract's links")
    verify.add_argument("--wait-timeout", dest="wait_timeout", type=float, default=600.0, help="seconds to wait for RUNNING / deletions")
    verify.add_argument(
        "--control-token", dest="control_token", help="accepted for docker compose symmetry; verify does not use the control API"
    )
    verify.add_argument("--junit-xml", dest="junit_xml", help="write JUnit XML here")
    verify.add_argument("--report", help="write the JSON drift report here")


def _verify(args: argparse.Namespace) -> int:
    from .testing.harness import Harness, summary_table
    from .testing.reports import write_json, write_junit
    from .testing.targets import Target

    if bool(args.ak) != bool(args.sk):
        print("mockfabric: --ak and --sk go together", file=sys.stderr)
        return 2
    if not (args.token or args.ak):
        print("mockfabric: give --token or --ak/--sk (the emulator accepts any well-formed token by default)", file=sys.stderr)
        return 2
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
    print(summary_table(report))
    for finding in report.findings:
        first_line = finding.message.splitlines()[0] if finding.message else ""
        request = f"{finding.request.get('method')} {finding.request.get('path')}"
        print(f"\n[{finding.operation}] {finding.check}: {finding.title} ({finding.occurrences}x)\n  {first_line}\n  request: {request}")
    if args.report:
        write_json(report, args.report)
    if args.junit_xml:
        write_junit(report, args.junit_xml)
    print(f"\n{report.total_requests} generated requests in {report.seconds:.1f} s: {'conforms' if report.passed else 'does NOT conform'}")
    return 0 if report.passed else 1


def _diff(args: argparse.Namespace) -> int:
    from .testing.reports import diff, load

    try:
        lines = diff(load(args.first), load(args.second))
    except (OSError, ValueError) as exc:
        print(f"mockfabric: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines) if lines else "the reports agree")
    return 1 if lines else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mockfabric", description="Offline twin of Huawei Cloud DataArts Fabric's inference API.")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    sub.add_parser("operations", help="print the operations the contract covers (Markdown table)")
    _verify_parser(sub)
    compare = sub.add_parser("diff", help="compare two drift reports (e.g. emulator vs real service); exit 1 when they differ")
    compare.add_argument("first")
    compare.add_argument("second")
    args = parser.parse_args(argv)
    if args.command == "verify":
        return _verify(args)
    if args.command == "diff":
        return _diff(args)
    if args.command == "operations":
        from .operations import operations_table

        print(operations_table())
        return 0
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings = load_settings(flags)
    except ConfigError as exc:
        print(f"mockfabric: {exc}", file=sys.stderr)
        return 2
    from .serving import ServeError, serve

    try:
        return serve(settings)
    except ServeError as exc:
        print(f"mockfabric: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

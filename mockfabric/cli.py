"""Command line: `mockfabric serve`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .config import AUTH_MODES, COMPLETION_MODES, ConfigError, load_settings, parse_bool, parse_lifecycle


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
        "--shutdown-timeout", dest="shutdown_timeout", type=float, help="seconds in-flight requests get to finish on SIGTERM (default 10)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mockfabric", description="Offline twin of Huawei Cloud DataArts Fabric's inference API.")
    sub = parser.add_subparsers(dest="command", required=True)
    _serve_parser(sub)
    sub.add_parser("operations", help="print the operations the contract covers (Markdown table)")
    args = parser.parse_args(argv)
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

"""Command line: `mockfabric serve | operations | verify | diff`, and `--version`.

What must hold: every bad flag, environment value or file ends the command with exit code 2 and one line on stderr
naming what was wrong (no traceback, no usage dump); `verify` never reports a run that could not test as a pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .config import ConfigError, is_loopback, parse_bool, parse_float, parse_int, serve_settings, setting_specs
from .version import __version__

VERIFY_MODULES = ("hypothesis", "schemathesis", "requests")


class _Parser(argparse.ArgumentParser):
    """No abbreviated flags (`--por` is not `--port`, `--strict` not `--strict-fixtures`); an error names the help
    page of the (sub)command it is about, and the innermost (sub)command parsed is noted as `mockfabric_parser`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        self.mockfabric_flags: set[str] = set()
        self.mockfabric_given: list[str] = []
        super().__init__(*args, **kwargs)

    def add_argument(self, *names: Any, **kwargs: Any) -> Any:
        self.mockfabric_flags.update(name for name in names if isinstance(name, str) and name.startswith("-"))
        return super().add_argument(*names, **kwargs)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self.mockfabric_given = list(sys.argv[1:] if args is None else args)
        parsed, extras = super().parse_known_args(args, namespace)
        if getattr(parsed, "mockfabric_parser", None) is None:
            parsed.mockfabric_parser = self
        return parsed, extras

    def error(self, message: str) -> NoReturn:
        unknown = [given for given in self._unknown_flags() if message.startswith("the following arguments are required")]
        if unknown:  # `--base-u URL`: the mistyped flag is what is wrong, not the missing one it was meant to be
            message = f"unrecognized arguments: {' '.join(unknown)}"
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")

    def _unknown_flags(self) -> list[str]:
        """The flags given to this (sub)command that it does not have (up to its first subcommand's name)."""
        unknown: list[str] = []
        for given in self.mockfabric_given:
            if given == "--":  # what follows is not flags
                break
            if not given.startswith("-"):
                if unknown:  # the mistyped flag's value, then the rest: the first unknown flag is enough to name
                    break
                continue
            if given.split("=", 1)[0] not in self.mockfabric_flags | {"-h", "--help"}:
                unknown.append(given.split("=", 1)[0])
        return unknown


MAX_EXAMPLES = 10_000  # verify's generated requests per operation, mode and variant, at the most


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A flag type whose error message (ConfigError's one line) reaches the user instead of argparse's generic one."""

    def typed(text: str) -> Any:
        try:
            return parse(text)
        except (ConfigError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return typed


def _fail(message: str) -> int:
    print(f"mockfabric: {message}", file=sys.stderr)
    return 2


def _serve_parser(sub: Any) -> None:
    serve = sub.add_parser(
        "serve",
        help="run the emulator (both planes on one base URL)",
        description="Run the emulator. Every flag can also be set as MOCKFABRIC_<FLAG> (flags win).",
    )
    for name, spec in setting_specs().items():  # the flags are the settings, declared once in mockfabric.config
        typed = None if spec.parse is str else _typed(spec.parse)
        flag = f"--{name.replace('_', '-')}"
        if spec.parse is parse_bool:  # a switch: `--flag` alone is true, `--no-flag` false, `--flag=false` still works
            serve.add_argument(flag, dest=name, type=typed, nargs="?", const=True, metavar="true|false", help=spec.help)
            serve.add_argument(f"--no-{flag[2:]}", dest=name, action="store_const", const=False, help=f"the same as {flag}=false")
            continue
        serve.add_argument(flag, dest=name, type=typed, choices=spec.choices, help=spec.help)


def _verify_parser(sub: Any) -> None:
    verify = sub.add_parser(
        "verify",
        help="check a running emulator or the real service against the contract (needs the verify extra)",
        description="Property-based contract verification (schemathesis + hypothesis); needs pip install 'mockfabric[verify]'. "
        "Exit 0 only when everything conformed, 1 with findings, 2 when the run could not test: bad arguments, no "
        "connection, or a run that did not reach the service. Every answer is classed: the service's own (a JSON or "
        "event-stream success, or its error body {error_code, error_msg}), 'no such API' (a 404 that is APIG.0101 or not "
        "that body), refused (401/403), throttled (429), 5xx, other, no response. The run fails (exit 2) with one line "
        "saying which and what to check when half or more of all answers are not the service's own, when not one answer "
        "is a 2xx, when an operation that was sent requests got no answer of its own (a 5xx counts: it is a finding), "
        "or when 8 requests in a row got no answer; 'conforms' is only said of a run in which every exercised "
        "operation got one.",
    )
    number = _typed(parse_int)
    verify.add_argument("--base-url", required=True, help="admin plane base URL, http(s)://host[:port] (an emulator serves both)")
    verify.add_argument("--ep-url", help="ep plane base URL of the real service (default: --base-url)")
    verify.add_argument("--token", help="X-Auth-Token to send (or MOCKFABRIC_X_AUTH_TOKEN, kept out of the process list)")
    verify.add_argument(
        "--ak", help="access key: requests are signed with huaweicloudsdkcore's signer (or HUAWEICLOUD_SDK_AK/_SK/_PROJECT_ID)"
    )
    verify.add_argument("--sk", help="secret key (with --ak)")
    verify.add_argument(
        "--project-id",
        dest="project_id",
        help="the credential's project (signed with --ak/--sk, X-Project-Id with --token); without it an emulator run "
        "uses a fresh mfv-… tenant, or the credential's own project where the emulator fixes it (--auth strict)",
    )
    verify.add_argument("--security-token", dest="security_token", help="X-Security-Token of temporary credentials")
    verify.add_argument(
        "--real", action="store_true", help="the target is the real service: force the name prefix on every created resource"
    )
    verify.add_argument(
        "--max-examples",
        dest="max_examples",
        type=number,
        default=25,
        help="generated requests per operation, mode and variant (default: %(default)s)",
    )
    verify.add_argument(
        "--seed", type=number, default=0, help="hypothesis seed: the same seed sends the same requests (default: %(default)s)"
    )
    verify.add_argument("--read-only", dest="read_only", action="store_true", help="only GET operations; creates nothing")
    verify.add_argument(
        "--allow-billable",
        dest="allow_billable",
        action="store_true",
        help="also run operations that cost money on the real service (endpoints, deployments, invocations)",
    )
    verify.add_argument(
        "--stateful",
        dest="stateful",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the sequences driven by the contract's links (create, read, update, delete); "
        "on by default, --no-stateful skips them",
    )
    verify.add_argument(
        "--wait-timeout",
        dest="wait_timeout",
        type=_typed(parse_float),
        default=600.0,
        help="seconds to wait for RUNNING / deletions (default: %(default)s)",
    )
    verify.add_argument(
        "--request-timeout",
        dest="request_timeout",
        type=_typed(parse_float),
        default=60.0,
        help="seconds each answer may take in all (its reads, and the whole of it); after 8 requests in a row without an "
        "answer the run stops and fails (default: %(default)s)",
    )
    verify.add_argument(
        "--hypothesis-db",
        dest="hypothesis_db",
        default=str(Path(tempfile.gettempdir()) / "mockfabric-hypothesis"),
        help="folder for hypothesis's caches, kept out of the working directory (default: %(default)s)",
    )
    verify.add_argument("--junit-xml", dest="junit_xml", help="write JUnit XML here")
    verify.add_argument("--report", help="write the JSON drift report here")
    verify.add_argument("--html", help="write the drift report as one self-contained HTML page here")


def _proxy_parser(sub: Any) -> None:
    proxy = sub.add_parser(
        "proxy",
        help="forward to the real service, check every exchange against the contract, record it",
        description="A proxy in front of the real service: every exchange is forwarded unchanged and checked against the "
        "contract; findings accumulate in a drift report (GET /_mockfabric/proxy/report, --report at exit).",
    )
    proxy.add_argument("--upstream", required=True, help="the service's base URL (admin plane; both planes if --ep-upstream is not given)")
    proxy.add_argument("--ep-upstream", dest="ep_upstream", help="the ep plane's base URL (service instances, invocations)")
    proxy.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    proxy.add_argument("--port", type=_typed(int), default=8080, help="port (default 8080; 0 picks a free one)")
    proxy.add_argument("--token", help="send every request upstream as this X-Auth-Token")
    proxy.add_argument(
        "--ak",
        help="sign AK/SK requests again with this access key (the SDK's signer); without --token or --ak, the SDK's "
        "variables HUAWEICLOUD_SDK_AK, _SK, _PROJECT_ID and _SECURITY_TOKEN are used (kept out of the process list)",
    )
    proxy.add_argument("--sk", help="... and this secret key")
    proxy.add_argument("--project-id", dest="project_id", help="project id the signed requests name")
    proxy.add_argument("--security-token", dest="security_token", help="security token of temporary AK/SK")
    proxy.add_argument("--record", help="write each exchange as a JSON file in this folder (credentials redacted)")
    proxy.add_argument("--report", help="write the drift report here at exit: an HTML page when it ends in .html, else JSON")
    proxy.add_argument("--fail-on-drift", dest="fail_on_drift", action="store_true", help="exit 1 when the report has findings")
    proxy.add_argument(
        "--read-timeout",
        dest="read_timeout",
        type=_typed(float),
        default=10.0,
        help="seconds a client may pause sending its request, or take nothing of its answer, before it is dropped (default 10)",
    )


def _build_parser() -> _Parser:
    parser = _Parser(prog="mockfabric", description="Offline twin of Huawei Cloud DataArts Fabric's inference API.")
    parser.add_argument("--version", action="version", version=f"mockfabric {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _serve_parser(sub)
    sub.add_parser("operations", help="print the operations the contract covers (Markdown table)")
    _verify_parser(sub)
    compare = sub.add_parser("diff", help="compare two drift reports (e.g. emulator vs real service); exit 1 when they differ")
    compare.add_argument("first")
    compare.add_argument("second")
    compare.add_argument("--html", help="also write the comparison (differences, both reports side by side) as an HTML page here")
    _proxy_parser(sub)
    fixtures = sub.add_parser("fixtures", help="answer fixture files").add_subparsers(dest="action", required=True, parser_class=_Parser)
    check = fixtures.add_parser("check", help="validate fixture files (YAML or JSON, or directories of them); exit 2 on a problem")
    check.add_argument("paths", nargs="+", metavar="PATH")
    journal = fixtures.add_parser(
        "from-journal", help="write the invocations of a request journal as a fixture file that replays them exactly"
    )
    source = journal.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a running emulator's base URL: its journal is read page by page")
    source.add_argument("--file", help="a journal saved as JSON (a GET /_mockfabric/requests answer, or a list of its entries)")
    journal.add_argument("--tenant", help="only this tenant's invocations")
    journal.add_argument(
        "--any-instance", dest="any_instance", action="store_true", help="match questions on any instance (ids differ between emulators)"
    )
    journal.add_argument("--control-token", dest="control_token", help="the emulator's control token, if it has one")
    journal.add_argument(
        "--timeout",
        type=_typed(parse_float),
        default=30.0,
        help="seconds each page of --url may take to arrive whole (default 30)",
    )
    journal.add_argument("--output", "-o", help="write the fixture file here (default: standard output)")
    recorded = fixtures.add_parser(
        "from-recording", help="write the invocations a proxy recorded (--record DIR) as a fixture file: real answers, chunking, timing"
    )
    recorded.add_argument("folder", metavar="DIR")
    recorded.add_argument("--any-instance", dest="any_instance", action="store_true", help="match questions on any instance")
    recorded.add_argument("--output", "-o", help="write the fixture file here (default: standard output)")
    return parser


def _writable(path: str) -> str | None:
    """Why a report cannot be written to `path`, or None: checked before a run, not after it."""
    from .persistence import unwritable_because

    problem = unwritable_because(Path(path).resolve())
    return None if problem is None else f"cannot write {path}: {problem}"


def _base_url_problem(flag: str, url: str) -> str | None:
    """Why `url` is not a base URL (http(s)://host[:port][/path], no query or fragment), or None."""
    wrong = f"{flag} {url!r} is not an http(s)://host[:port] URL"
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is not a number in 0..65535
    except ValueError as exc:
        return f"{wrong}: {exc}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return wrong
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        return f"{wrong}: it has a query or fragment (a base URL is scheme, host, port and at most a path)"
    if port == 0:
        return f"{wrong}: port 0"
    return None


def _verify_problems(args: argparse.Namespace) -> str | None:
    missing = [name for name in VERIFY_MODULES if importlib.util.find_spec(name) is None]
    if args.ak and importlib.util.find_spec("huaweicloudsdkcore") is None:
        missing.append("huaweicloudsdkcore")
    if missing:
        return f"verify needs the verify extra: pip install 'mockfabric[verify]' (missing: {', '.join(missing)})"
    if bool(args.ak) != bool(args.sk):
        return "--ak and --sk go together"
    if not (args.token or args.ak):
        return "give --token or --ak/--sk (the emulator accepts any well-formed token by default)"
    for flag, url in (("--base-url", args.base_url), ("--ep-url", args.ep_url)):
        if url is not None and (problem := _base_url_problem(flag, url)):
            return problem
    for path in (args.report, args.junit_xml, args.html):
        if path is not None and (problem := _writable(path)):
            return problem
    if not 1 <= args.max_examples <= MAX_EXAMPLES:
        return f"--max-examples must be 1..{MAX_EXAMPLES}, not {args.max_examples}"
    for flag, seconds in (("--wait-timeout", args.wait_timeout), ("--request-timeout", args.request_timeout)):
        if not 0 < seconds <= 86400:
            return f"{flag} must be more than 0 and at most 86400 seconds, not {seconds:g}"
    return None


def _verify(args: argparse.Namespace) -> int:
    _credentials_from_environment(args)
    problem = _verify_problems(args)
    if problem is not None:
        return _fail(problem)
    os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", args.hypothesis_db)  # read when hypothesis is imported
    from .testing.probe import unreachable
    from .testing.verify import run_verify

    for url in dict.fromkeys(filter(None, (args.base_url, args.ep_url))):
        reason = unreachable(url, timeout=args.request_timeout)
        if reason is not None:
            return _fail(f"cannot reach {url}: {reason}")
    return run_verify(args)


def _diff(args: argparse.Namespace) -> int:
    from .testing.reports import diff, load, write_comparison_html

    if args.html is not None and (problem := _writable(args.html)):
        return _fail(problem)
    try:
        first, second = load(args.first), load(args.second)
        lines = diff(first, second)
        if args.html is not None:
            write_comparison_html(first, second, (args.first, args.second), args.html)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    print("\n".join(lines) if lines else "the reports agree")
    return 1 if lines else 0


def _serve(args: argparse.Namespace) -> int:
    flags = {k: v for k, v in vars(args).items() if k != "command"}
    try:
        settings, generated_token = serve_settings(flags)
    except ConfigError as exc:
        return _fail(str(exc))
    if settings.seed is None:
        settings = settings.replace(seed=secrets.randbelow(2**31))  # printed, so that a random run can be repeated
    notes = [f"control token (generated; send it as X-Mockfabric-Control-Token): {generated_token}"] if generated_token else []
    from .serving import ServeError, serve

    try:
        return serve(settings, notes=notes)
    except ServeError as exc:
        print(f"mockfabric: {exc}", file=sys.stderr)
        return exc.exit_code


def _fixtures(args: argparse.Namespace) -> int:
    if args.action in ("from-journal", "from-recording"):
        return _from_traffic(args)
    from .fixture.answers import check_files, fixture_check

    good, problems = check_files(args.paths, fixture_check)
    for problem in problems:
        print(f"mockfabric: {problem}", file=sys.stderr)
    print(f"{good} fixture(s) fine, {len(problems)} problem(s)")
    return 2 if problems else 0


def _from_traffic(args: argparse.Namespace) -> int:
    from .fixture.recorded import from_journal, from_recordings
    from .fixture.sources import journal_entries, recordings_in

    journal = args.action == "from-journal"
    if journal and args.url is not None and (problem := _base_url_problem("--url", args.url)):
        return _fail(problem)
    if journal and not 0 < args.timeout <= 3600:
        return _fail(f"--timeout must be more than 0 and at most 3600 seconds, not {args.timeout:g}")
    if args.output is not None and (problem := _writable(args.output)):
        return _fail(problem)
    try:
        if journal:
            entries = journal_entries(
                url=args.url, path=args.file, tenant=args.tenant, control_token=args.control_token, timeout=args.timeout
            )
            converted = from_journal(entries, any_instance=args.any_instance)
        else:
            converted = from_recordings(recordings_in(args.folder), any_instance=args.any_instance)
    except ValueError as exc:
        return _fail(str(exc))
    for line in converted.skipped:
        print(f"mockfabric: {line}", file=sys.stderr)
    text = fixture_yaml(converted.fixtures, f"mockfabric fixtures {args.action}")
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    print(f"mockfabric: {len(converted.fixtures)} fixture(s) written, {len(converted.skipped)} invocation(s) skipped", file=sys.stderr)
    return 0


def fixture_yaml(fixtures: list[dict[str, Any]], made_by: str) -> str:
    """A fixture file's text: YAML, Unicode kept, keys in the order written."""
    import yaml

    header = f"# made by {made_by}; check with: mockfabric fixtures check FILE\n"
    return header + yaml.safe_dump({"fixtures": fixtures}, sort_keys=False, allow_unicode=True, width=120)


def _proxy_problems(args: argparse.Namespace) -> str | None:
    missing = [name for name in ("httpx2",) if importlib.util.find_spec(name) is None]
    if args.ak and importlib.util.find_spec("huaweicloudsdkcore") is None:
        missing.append("huaweicloudsdkcore")
    if missing:
        return f"proxy needs the proxy extra: pip install 'mockfabric[proxy]' (missing: {', '.join(missing)})"
    for flag, url in (("--upstream", args.upstream), ("--ep-upstream", args.ep_upstream)):
        if url is not None and (problem := _base_url_problem(flag, url)):
            return problem
    if not is_loopback(args.host):
        return f"--host {args.host} is not a loopback address: the proxy signs with your credentials, so it serves this machine only"
    if bool(args.ak) != bool(args.sk):
        return "--ak and --sk go together"
    if args.token and args.ak:
        return "give --token or --ak/--sk, not both"
    if not 0 <= args.port <= 65535:
        return f"--port must be 0..65535, not {args.port}"
    if not 0 < args.read_timeout <= 3600:
        return f"--read-timeout must be more than 0 and at most 3600 seconds, not {args.read_timeout:g}"
    for path in filter(None, (args.report,)):
        if problem := _writable(path):
            return problem
    if args.record:
        return _folder_problem(args.record)
    return None


def _folder_problem(name: str) -> str | None:
    """Why a folder to write into cannot be had (made once the proxy listens, not before), or None."""
    folder = Path(name)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if existing == folder and not folder.is_dir():
        return f"cannot make the recording folder {name}: it exists and is not a folder"
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot make the recording folder {name}: {existing} is not a folder this user may write in"
    return None


SDK_VARIABLES = {  # credentials in the environment: huaweicloudsdkcore's own names, and one of ours for a token
    "token": "MOCKFABRIC_X_AUTH_TOKEN",
    "ak": "HUAWEICLOUD_SDK_AK",
    "sk": "HUAWEICLOUD_SDK_SK",
    "project_id": "HUAWEICLOUD_SDK_PROJECT_ID",
    "security_token": "HUAWEICLOUD_SDK_SECURITY_TOKEN",
}


def _credentials_from_environment(args: argparse.Namespace) -> None:
    """With no credential among the flags, the environment gives them (a flag is seen by every `ps`): a token from
    MOCKFABRIC_X_AUTH_TOKEN, else AK/SK from the SDK's variables."""
    if args.token or args.ak or args.sk:
        return
    found = {name: os.environ[variable] for name, variable in SDK_VARIABLES.items() if os.environ.get(variable)}
    if "token" in found:
        found = {k: v for k, v in found.items() if k not in ("ak", "sk", "security_token")}  # one credential: the token
    for name, value in found.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def _proxy(args: argparse.Namespace) -> int:
    _credentials_from_environment(args)
    problem = _proxy_problems(args)
    if problem is not None:
        return _fail(problem)
    from .proxy.server import ProxySettings, run_proxy

    values = {k: v for k, v in vars(args).items() if k != "command"}
    return run_proxy(ProxySettings(**values))


def main(argv: Sequence[str] | None = None) -> int:
    """The command's exit code; Ctrl+C is one line and 130, whatever was running."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("mockfabric: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    args, extras = _build_parser().parse_known_args(argv)
    parser = args.mockfabric_parser
    del args.mockfabric_parser
    if extras:  # refused by the (sub)command they were given to, so that the hint names its help page
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    if args.command == "proxy":
        return _proxy(args)
    if args.command == "fixtures":
        return _fixtures(args)
    if args.command == "verify":
        return _verify(args)
    if args.command == "diff":
        return _diff(args)
    if args.command == "operations":
        from .operations import operations_table

        print(operations_table())
        return 0
    return _serve(args)


if __name__ == "__main__":
    sys.exit(main())

"""Settings, built once: CLI flags win over MOCKFABRIC_* environment variables, which win over defaults."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

ENV_PREFIX = "MOCKFABRIC_"
DEFAULT_HOST = "127.0.0.1"
AUTH_MODES = ("off", "default", "strict")
POLICIES = ("time", "polls", "manual", "instant")
RESOURCE_KINDS = ("endpoint", "service_instance", "job_run")
COMPLETION_MODES = ("generate", "echo")
LOG_LEVELS = ("debug", "info", "warning", "error")
FIRST_CHUNKS = ("content", "empty")
CONTROL_TOKEN_HEADER = "X-Mockfabric-Control-Token"
OVER_CAPACITY = ("queue", "refuse")  # what an invocation past an endpoint's capacity gets
HOST_NAME = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.\-]{1,253})$")


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names the setting."""


@dataclass(frozen=True, slots=True)
class Progression:
    """How a resource kind leaves its transient statuses: after `seconds`, after `polls` reads, only when told, or at once."""

    policy: str = "time"
    seconds: float = 3.0
    polls: int = 2

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ConfigError(f"progression policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.seconds < 0 or self.polls < 0:
            raise ConfigError("progression seconds and polls must not be negative")

    def as_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "seconds": self.seconds, "polls": self.polls}


def _default_lifecycle() -> dict[str, Progression]:
    return {kind: Progression() for kind in RESOURCE_KINDS}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ConfigError(f"expected true/false/1/0, got {text!r}")


def parse_lifecycle(text: str) -> dict[str, Progression]:
    """`instant`, `time:5` (every kind), or per kind `endpoint=time:5,service_instance=polls:2`, or both
    (`polls:2,endpoint=manual`: the per-kind entries win); kinds not named keep the default."""
    result = _default_lifecycle()
    entries = [part.strip() for part in text.split(",") if part.strip()]
    if not entries:
        raise ConfigError("lifecycle is empty: give POLICY[:N] or KIND=POLICY[:N], e.g. instant or endpoint=time:5")
    for item in sorted(entries, key=lambda entry: "=" in entry):  # entries for every kind first, per-kind ones after
        kind, _, spec = item.rpartition("=")
        if kind and kind not in RESOURCE_KINDS:
            raise ConfigError(f"lifecycle entry {item!r}: {kind!r} is not a kind ({', '.join(RESOURCE_KINDS)})")
        progression = _progression(item, spec)
        for each in (kind,) if kind else RESOURCE_KINDS:
            result[each] = progression
    return result


def _progression(item: str, spec: str) -> Progression:
    policy, _, amount = spec.partition(":")
    if policy not in POLICIES:
        raise ConfigError(f"lifecycle entry {item!r}: policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    try:
        number = float(amount) if amount else None
    except ValueError:
        raise ConfigError(f"lifecycle entry {item!r}: {amount!r} is not a number") from None
    if number is not None and not 0 <= number < 1e9:
        raise ConfigError(f"lifecycle entry {item!r}: {amount} is out of range (0 to 1e9)")
    if policy == "polls":
        return Progression(policy, polls=int(number) if number is not None else 2)
    return Progression(policy, seconds=number if number is not None else 3.0)


def parse_hosts(text: str) -> tuple[str, ...]:
    """`fabric.test,api.local` -> the host names (without ports) the emulator answers besides loopback; `*` = any."""
    hosts = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [host for host in hosts if host != "*" and not HOST_NAME.match(host)]
    if bad:
        raise ConfigError(f"allowed hosts must be host names, IP addresses or *, not {', '.join(map(repr, bad))}")
    return hosts


def parse_paths(text: str) -> tuple[str, ...]:
    """`a.yaml,fixtures/` -> the paths, in order (checked when they are loaded)."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"expected a whole number, got {text!r}") from None


def parse_float(text: str) -> float:
    try:
        number = float(text.strip())
    except ValueError:
        raise ConfigError(f"expected a number, got {text!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"expected a finite number, got {text!r}")
    return number


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `limit` requests of one operation per tenant in any `per` seconds (the API Gateway's policy)."""

    limit: int
    per: int  # 60 (a minute) or 1 (a second)

    @property
    def unit(self) -> str:
        return "minute" if self.per == 60 else "second"


RATE = re.compile(r"^(?P<operation>[A-Za-z][A-Za-z0-9]{0,63})=(?P<limit>\d{1,9})/(?P<unit>min|s)$")


def parse_rate_limits(text: str) -> dict[str, RateLimit]:
    """`InvokeModelService=60/min,ListWorkspaces=5/s` -> a limit per operationId (checked against the contract at start)."""
    limits: dict[str, RateLimit] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        found = RATE.match(item)
        if found is None:
            raise ConfigError(f"rate limit {item!r}: expected OPERATION=N/min or OPERATION=N/s, e.g. InvokeModelService=60/min")
        limit = int(found["limit"])
        if limit < 1:
            raise ConfigError(f"rate limit {item!r}: the limit must be at least 1")
        limits[found["operation"]] = RateLimit(limit, 60 if found["unit"] == "min" else 1)
    return limits


def _optional_int(text: str) -> int | None:
    return parse_int(text) if text.strip() else None


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """How one setting is given: parsed from the text of a flag or environment variable, explained by `help`."""

    parse: Callable[[str], Any]
    help: str
    choices: tuple[str, ...] | None = None


def _setting(default: Any, parse: Callable[[str], Any], help: str, *, choices: tuple[str, ...] | None = None) -> Any:
    """A Settings field with its SettingSpec; a callable default is a factory (a fresh mapping per Settings)."""
    metadata = {"setting": SettingSpec(parse, help, choices)}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


def setting_specs() -> dict[str, SettingSpec]:
    """Each setting's name (the flag is `--<name with dashes>`, the variable MOCKFABRIC_<NAME>) and spec, in order."""
    return {item.name: item.metadata["setting"] for item in dataclasses.fields(Settings)}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting of the emulator, declared here once: its type, default, how a flag or MOCKFABRIC_<NAME> value is
    parsed, and its help text (`mockfabric serve --help` is built from these; a test keeps the README table in step)."""

    host: str = _setting(DEFAULT_HOST, str, "bind address (default 127.0.0.1; any other needs a control token, generated if not given)")
    port: int = _setting(8080, parse_int, "port (default 8080; 0 picks a free one)")
    threads: int = _setting(16, parse_int, "worker threads = requests being worked on at once; streams and latency take none (default 16)")
    workers: int = _setting(1, parse_int, "must be 1: the state lives in one process")
    auth: str = _setting("default", str, "credential checking (default: require a well-formed credential)", choices=AUTH_MODES)
    seed: int | None = _setting(None, _optional_int, "seed for ids and generated content (default: random, printed at start)")
    lifecycle: Mapping[str, Progression] = _setting(
        _default_lifecycle,
        parse_lifecycle,
        "how resources leave transient statuses: POLICY[:N] for every kind, or per kind "
        "endpoint=time:5,service_instance=polls:2 (policies: time, polls, manual, instant; default time:3)",
    )
    validate_responses: bool = _setting(False, parse_bool, "check every response against the contract (true/false; default false)")
    catalog: str | None = _setting(None, str, "YAML file with specs, base_models and features (default: the built-in catalog)")
    ttft_ms: int = _setting(0, parse_int, "time to first token of invocations, ms (default 0)")
    itl_ms: int = _setting(0, parse_int, "inter-token latency of invocations, ms (default 0)")
    ttft_jitter_ms: float = _setting(0.0, parse_float, "standard deviation of the time to first token, ms, seeded per request (default 0)")
    itl_jitter_ms: float = _setting(0.0, parse_float, "standard deviation of the inter-token latency, ms, seeded per request (default 0)")
    prefill_us_per_token: float = _setting(0.0, parse_float, "time to first token added per prompt token, microseconds (default 0)")
    streams_per_mu: int = _setting(
        0,
        parse_int,
        "answers an endpoint serves at once per reserved MU (reserved_resource.mu.max; 1 if none), on the emulator's clock; "
        "0 = no limit (default 0)",
    )
    over_capacity: str = _setting(
        "queue",
        str,
        "what an invocation past an endpoint's capacity gets: queue (waits for a free slot, its time to first token grows) "
        "or refuse (the gateway's 429 APIG.0308)",
        choices=OVER_CAPACITY,
    )
    shutdown_timeout: float = _setting(10.0, parse_float, "seconds in-flight requests and streams get to finish on SIGTERM (default 10)")
    read_timeout: float = _setting(
        10.0,
        parse_float,
        "seconds a request head may take in all, a body may pause, or a stream's reader may take nothing, before the "
        "connection is dropped (default 10)",
    )
    stream_backlog: int = _setting(
        4 * 1024 * 1024, parse_int, "bytes of a stream a client may leave unread before its connection is closed (default 4194304, 4 MiB)"
    )
    control_token: str | None = _setting(None, str, "token the control API requires (X-Mockfabric-Control-Token)")
    completion_mode: str = _setting(
        "generate",
        str,
        "what invocations answer without a scripted answer: generate (seeded text, default) or echo (last user message)",
        choices=COMPLETION_MODES,
    )
    stream_first_chunk: str = _setting(
        "content",
        str,
        "what a stream's first delta carries besides the role: content (the first fragment, as the service documents) or empty",
        choices=FIRST_CHUNKS,
    )
    stream_chunk_tokens: int = _setting(1, parse_int, "tokens per streamed content chunk (default 1)")
    state_file: str | None = _setting(
        None, str, "keep the state in this JSON file: loaded at start, saved atomically after changes and at exit"
    )
    credentials: str | None = _setting(None, str, "YAML/JSON file of identities (AK/SK or tokens -> project and user names)")
    journal_bytes: int = _setting(
        32 * 1024 * 1024,
        parse_int,
        "memory the request journal may hold, in bytes (default 33554432 = 32 MiB); the oldest entries go first",
    )
    fixtures: tuple[str, ...] = _setting(
        (),
        parse_paths,
        "answer fixture files or directories (YAML or JSON), comma-separated, loaded in order at start (default: none)",
    )
    strict_fixtures: bool = _setting(
        False, parse_bool, "an invocation no scripted answer or fixture matches answers 501 instead of generated text (default false)"
    )
    fault_header: bool = _setting(
        True, parse_bool, "apply the X-Mockfabric-Fault header of a request to that request (true/false; default true)"
    )
    metrics: bool = _setting(
        False,
        parse_bool,
        "serve Prometheus metrics at /metrics, named as vLLM names them, per tenant and instance, on the emulator's clock "
        "(true/false; default false; with a control token set, a scrape presents it)",
    )
    require_agreement: bool = _setting(
        False,
        parse_bool,
        "refuse to create resources until the tenant has signed the current agreement and created the common agency "
        "(true/false; default false)",
    )
    rate_limit: Mapping[str, RateLimit] = _setting(
        dict,
        parse_rate_limits,
        "API Gateway throttling per tenant and operation, e.g. InvokeModelService=60/min,ListWorkspaces=5/s: past it, "
        "429 APIG.0308, counted on the emulator's clock (default: none)",
    )
    quiet: bool = _setting(
        False, parse_bool, "no access log: without it serve writes one line per request on standard error (default false)"
    )
    log_level: str = _setting(
        "info",
        str,
        "what serve logs on standard error: info (an access line per request, and warnings; the default), warning, error, or debug",
        choices=LOG_LEVELS,
    )
    allowed_hosts: tuple[str, ...] = _setting(
        (),
        parse_hosts,
        "Host names served besides loopback ones, comma-separated (e.g. fabric.test), or * for any; "
        "guards against DNS rebinding (default: loopback names only, any host when a control token is set)",
    )

    def __post_init__(self) -> None:
        for spec_field in fields(self):  # a setting with choices takes one of them, however it was given
            spec = spec_field.metadata.get("setting")
            value = getattr(self, spec_field.name)
            if spec is not None and spec.choices and value not in spec.choices:
                name = spec_field.name.replace("_", "-")
                raise ConfigError(f"{name} must be one of {', '.join(spec.choices)}, not {value!r}")
        if self.auth not in AUTH_MODES:
            raise ConfigError(f"auth must be one of {', '.join(AUTH_MODES)}, not {self.auth!r}")
        if self.auth == "strict" and not self.credentials:
            raise ConfigError("auth strict needs a credentials file (--credentials FILE) to check tokens and signatures against")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, not {self.port}")
        if self.threads < 1:
            raise ConfigError("threads must be at least 1")
        if not 0 <= self.shutdown_timeout <= 3600:
            raise ConfigError(f"shutdown-timeout must be 0..3600 seconds, not {self.shutdown_timeout:g}")
        if not 0 < self.read_timeout <= 3600:
            raise ConfigError(f"read-timeout must be more than 0 and at most 3600 seconds, not {self.read_timeout:g}")
        if self.stream_backlog < 64 * 1024:
            raise ConfigError(f"stream-backlog must be at least 65536 (64 KiB), not {self.stream_backlog}")
        if self.workers != 1:
            raise ConfigError(
                "workers must be 1: the emulator keeps its state in one process, and several workers would each hold a different copy"
            )
        if not 1 <= self.stream_chunk_tokens <= 4096:
            raise ConfigError(f"stream-chunk-tokens must be 1..4096, not {self.stream_chunk_tokens}")
        if self.journal_bytes < 64 * 1024:
            raise ConfigError(f"journal-bytes must be at least 65536 (64 KiB), not {self.journal_bytes}")
        if self.over_capacity not in OVER_CAPACITY:
            raise ConfigError(f"over-capacity must be one of {', '.join(OVER_CAPACITY)}, not {self.over_capacity!r}")
        if not 0 <= self.streams_per_mu <= 1_000_000:
            raise ConfigError(f"streams-per-mu must be 0..1000000, not {self.streams_per_mu}")
        if min(self.ttft_ms, self.itl_ms, self.ttft_jitter_ms, self.itl_jitter_ms, self.prefill_us_per_token) < 0:
            raise ConfigError("ttft-ms, itl-ms, their jitters and prefill-us-per-token must not be negative")
        if not is_loopback(self.host) and not self.control_token:
            raise ConfigError(
                f"host {self.host} is not a loopback address: set a control token (--control-token or "
                "MOCKFABRIC_CONTROL_TOKEN) so that only you can drive the control API"
            )
        unknown = set(self.lifecycle) - set(RESOURCE_KINDS)
        if unknown:
            raise ConfigError(f"unknown resource kind in lifecycle: {', '.join(sorted(unknown))}")
        # kinds not named keep the default progression, so a partial mapping is never a half-configured emulator
        object.__setattr__(self, "lifecycle", {**_default_lifecycle(), **self.lifecycle})

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, **values: Any) -> Settings:
        """Settings from Python values, where a setting may also be given as its flag's text (`lifecycle="instant"`,
        `rate_limit="InvokeModelService=60/min"`), parsed as the flag would be; ConfigError names a bad one."""
        specs = setting_specs()
        unknown = sorted(set(values) - set(specs))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)} (see `mockfabric serve --help`)")
        parsed = {}
        for name, value in values.items():
            if isinstance(value, str) and specs[name].parse is not str:
                try:
                    value = specs[name].parse(value)
                except ConfigError as exc:
                    raise ConfigError(f"{name}={value!r}: {exc}") from None
            parsed[name] = value
        return cls(**parsed)


PARSERS: dict[str, Callable[[str], Any]] = {name: spec.parse for name, spec in setting_specs().items()}


def load_settings(flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Merge flags (already typed, None = not given) over MOCKFABRIC_* env vars (strings) over defaults."""
    return Settings(**_given(flags, environ))


def _given(flags: Mapping[str, Any] | None, environ: Mapping[str, str] | None) -> dict[str, Any]:
    """The settings named by flags or environment variables, typed, flags winning; the rest keep their defaults."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, parse in PARSERS.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw is not None:
            try:
                values[name] = parse(raw)
            except (ValueError, ConfigError) as exc:
                raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r}: {exc}") from None
    for name, value in (flags or {}).items():
        if value is not None:
            values[name] = value
    return values


def serve_settings(flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> tuple[Settings, str | None]:
    """Settings for `mockfabric serve`: as load_settings, except that a non-loopback host without a control token
    gets a freshly generated one (returned second, for the banner) instead of a refusal, so that
    `docker run -p 127.0.0.1:8080:8080 mockfabric` starts with the control API closed."""
    values = _given(flags, environ)
    if values.get("control_token") or is_loopback(values.get("host") or DEFAULT_HOST):
        return Settings(**values), None
    generated = values["control_token"] = secrets.token_urlsafe(24)
    return Settings(**values), generated

from __future__ import annotations

import pytest

from mockfabric.config import ConfigError, Progression, Settings, load_settings, parse_bool, parse_lifecycle, setting_specs


def test_flags_win_over_env_and_env_over_defaults() -> None:
    env = {"MOCKFABRIC_PORT": "9000", "MOCKFABRIC_THREADS": "8", "MOCKFABRIC_VALIDATE_RESPONSES": "1"}
    settings = load_settings({"port": 9100, "threads": None}, env)
    assert (settings.port, settings.threads, settings.validate_responses, settings.host) == (9100, 8, True, "127.0.0.1")


@pytest.mark.parametrize(("text", "value"), [("true", True), ("1", True), ("FALSE", False), ("0", False)])
def test_booleans_parse_explicitly(text: str, value: bool) -> None:
    assert parse_bool(text) is value


@pytest.mark.parametrize("text", ["yes", "", "2"])
def test_other_booleans_are_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_bool(text)


def test_lifecycle_parsing_and_partial_mappings() -> None:
    parsed = parse_lifecycle("endpoint=polls:4, service_instance=time:0.5")
    assert parsed == {
        "endpoint": Progression("polls", polls=4),
        "service_instance": Progression("time", seconds=0.5),
        "job_run": Progression(),
    }
    assert Settings(lifecycle={"endpoint": Progression("manual")}).lifecycle["service_instance"] == Progression()
    for bad in ("endpoint", "robot=time", "endpoint=sometimes", "endpoint=time:soon"):
        with pytest.raises(ConfigError):
            parse_lifecycle(bad)


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"workers": 2}, "workers must be 1"),
        ({"auth": "maybe"}, "auth"),
        ({"port": -1}, "port"),
        ({"threads": 0}, "threads"),
        ({"host": "0.0.0.0"}, "control token"),
        ({"completion_mode": "poetry"}, "completion-mode must be one of generate, echo"),
        ({"itl_ms": -5}, "itl"),
        ({"read_timeout": 0}, "read-timeout must be more than 0"),
        ({"stream_backlog": 1000}, "stream-backlog must be at least 65536"),
        ({"shutdown_timeout": -1}, "shutdown-timeout must be 0..3600"),
    ],
)
def test_invalid_settings_name_the_problem(changes: dict[str, object], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        Settings(**changes)  # type: ignore[arg-type]


def test_non_loopback_with_a_token_is_allowed() -> None:
    assert Settings(host="0.0.0.0", control_token="secret").host == "0.0.0.0"
    assert Settings(host="::1").host == "::1" and Settings(host="localhost").host == "localhost"


def test_env_errors_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="MOCKFABRIC_SEED"):
        load_settings({}, {"MOCKFABRIC_SEED": "abc"})


def test_every_setting_is_a_flag_an_environment_variable_and_a_readme_row() -> None:
    """Settings are declared once (mockfabric.config.Settings with a SettingSpec per field); PARSERS and the flags are
    built from them, and the README table is written by hand: this keeps all four in step."""
    import dataclasses
    import re
    from pathlib import Path

    from mockfabric.cli import _build_parser
    from mockfabric.config import ENV_PREFIX, PARSERS

    fields = {f.name for f in dataclasses.fields(Settings)}
    assert set(PARSERS) == fields
    flags = set(vars(_build_parser().parse_args(["serve"]))) - {"command", "mockfabric_parser"}  # every flag's destination, unset
    assert flags == fields
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Configuration", 1)[1].split("\n\n**", 1)[0]
    documented = set(re.findall(r"`" + ENV_PREFIX + r"([A-Z_]+)`", table))
    assert documented == {name.upper() for name in fields}
    for name in fields:
        assert f"`--{name.replace('_', '-')}`" in table, name


def test_settings_of_takes_a_settings_flag_text_as_the_flag_would() -> None:
    from mockfabric.config import RateLimit

    settings = Settings.of(lifecycle="instant", rate_limit="InvokeModelService=60/min", seed=3, completion_mode="echo")
    assert settings.lifecycle["endpoint"].policy == "instant" and settings.seed == 3 and settings.completion_mode == "echo"
    assert settings.rate_limit == {"InvokeModelService": RateLimit(60, 60)}
    with pytest.raises(ConfigError, match=r"lifecycle='sometimes': .*policy must be one of"):
        Settings.of(lifecycle="sometimes")
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.of(colour="blue")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], None),
        (["--strict-fixtures"], True),
        (["--no-strict-fixtures"], False),
        (["--strict-fixtures=false"], False),
        (["--strict-fixtures", "1"], True),
    ],
)
def test_a_boolean_setting_is_a_switch_and_still_takes_a_value(argv: list[str], expected: bool | None) -> None:
    """`--strict-fixtures` alone is true (issue 29: it was refused, "expected one argument"), `--no-…` false."""
    from mockfabric.cli import _build_parser

    parsed = _build_parser().parse_args(["serve", *argv, "--port", "0"])
    assert parsed.strict_fixtures is expected and parsed.port == 0
    bools = [name for name, spec in setting_specs().items() if spec.parse is parse_bool]
    assert len(bools) >= 3 and all(hasattr(_build_parser().parse_args(["serve", f"--no-{n.replace('_', '-')}"]), n) for n in bools)

"""The pytest plugin as a user meets it: a test file using the `mockfabric` fixture, with and without xdist."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
USER_TESTS = README.split("<!-- plugin-example", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_user_test_file_passes(pytester: pytest.Pytester, args: list[str]) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)


def test_a_failing_user_test_still_fails(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="def test_wrong(mockfabric):\n    assert mockfabric.base_url.startswith('https://')\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)

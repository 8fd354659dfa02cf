"""Users' regular expressions run in linear time (issue 28, item 3): a fixture's `regex` or a fault rule's `path` such
as `(a+)+$` against a few dozen characters froze the event loop, and every client with it, for seconds to hours
(Python's backtracking `re`). They are RE2 patterns now; one RE2 cannot take is refused when it is loaded.

Over real sockets, against `mockfabric serve` in its own process (a frozen server there cannot freeze the test)."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockfabric import MockFabric

from .flow import deploy
from .test_hostile_files import mockfabric, refused

CATASTROPHIC = "(a+)+$"  # Python's re backtracks 2^n times on n a's followed by a character that fails it
ATTACK = "a" * 40 + "!"
FIXTURES = f"""fixtures:
  - match: {{user: {{regex: '{CATASTROPHIC}'}}}}
    answer: {{content: never}}
  - match: {{any: true}}
    answer: {{content: fine}}
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    fixtures = tmp_path_factory.mktemp("patterns") / "answers.yaml"
    fixtures.write_text(FIXTURES)
    command = [sys.executable, "-m", "mockfabric", "serve", "--port", "0", "--lifecycle", "instant", "--fixtures", str(fixtures)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        yield process.stdout.readline().split("serving on ", 1)[1].split()[0]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # frozen in a regex (the old engine): nothing else stops it
            process.kill()
            process.communicate(timeout=10)


def test_a_catastrophic_fixture_regex_answers_at_once_and_freezes_nobody(served: str) -> None:
    deployed = deploy(MockFabric.connect(served, tenant="patterns"))
    answer = deployed.session.post(
        deployed.invoke_url, json={"messages": [{"role": "user", "content": ATTACK}], "stream": False}, timeout=10
    )
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "fine", answer.text[:300]
    assert requests.get(f"{served}/healthcheck", timeout=5).status_code == 200


def test_a_catastrophic_fault_path_answers_at_once(served: str) -> None:
    fabric = MockFabric.connect(served, tenant="patterns-faults")
    fabric.fault(path="/v1/workspaces/(a+)+/endpoints", status=503)
    try:
        missed = requests.get(f"{served}/v1/workspaces/{'a' * 30}!/endpoints", headers=fabric.headers, timeout=10)
        assert missed.status_code in (400, 404) and missed.json()["error_code"].startswith("dataartsfabric."), missed.text[:300]
        hit = requests.get(f"{served}/v1/workspaces/{'a' * 30}/endpoints", headers=fabric.headers, timeout=10)
        assert hit.status_code == 503, hit.text[:300]
    finally:
        fabric.clear_faults()


def test_a_fault_path_re2_cannot_take_is_a_400_naming_it(served: str) -> None:
    fabric = MockFabric.connect(served, tenant="patterns-refused")
    for pattern, why in (("/v1/(?=x)", "RE2"), ("(a)\\1", "RE2"), ("(", "RE2")):
        refused_rule = requests.post(
            f"{served}/_mockfabric/faults", json={"path": pattern, "status": 500}, headers=fabric.headers, timeout=10
        )
        assert refused_rule.status_code == 400, refused_rule.text
        body = refused_rule.json()
        assert body["error_code"] == "dataartsfabric.00010001" and body["error_msg"].startswith("body.path: ") and why in body["error_msg"]


@pytest.mark.parametrize("pattern", ["(a)\\\\1", "(?<=a)b", "x{2,100000}"])
def test_fixtures_check_refuses_a_pattern_re2_cannot_take_in_one_line(tmp_path: Path, pattern: str) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(f'fixtures:\n  - match: {{user: {{regex: "{pattern}"}}}}\n    answer: {{content: x}}\n')
    line = refused(mockfabric("fixtures", "check", str(path)), str(path), "regex", "RE2")
    assert len(line) < 400


def test_a_pattern_whose_program_is_huge_is_refused_and_many_cannot_add_up(served: str) -> None:
    """`\\pL{1000}` compiled to ~9 MB of RE2 program: 60 such rules took a server to 758 MB (hostile review). One
    program is bounded (PATTERN_MEMORY), and so are all live ones together (MAX_LIVE_PROGRAM)."""
    fabric = MockFabric.connect(served, tenant="patterns-huge")
    url = f"{served}/_mockfabric/faults"
    huge = requests.post(url, json={"path": "\\pL{1000}", "status": 500, "tenant": fabric.tenant}, headers=fabric.headers, timeout=10)
    assert huge.status_code == 400 and "too large" in huge.json()["error_msg"], huge.text
    try:
        answers = [
            requests.post(
                url, json={"path": f"[^x]{{1000}}{index}", "status": 500, "tenant": fabric.tenant}, headers=fabric.headers, timeout=10
            )
            for index in range(600)  # ~8 000 instructions each: past the bound of all live patterns before the end
        ]
        refused = [a for a in answers if a.status_code == 400]
        assert refused and "remove fault rules or fixtures first" in refused[0].json()["error_msg"], answers[-1].text
        assert all(a.status_code in (200, 400) for a in answers)
    finally:
        fabric.clear_faults()
    again = requests.post(url, json={"path": "[^x]{1000}", "status": 500, "tenant": fabric.tenant}, headers=fabric.headers, timeout=10)
    assert again.status_code == 200, again.text  # cleared rules give their share back
    fabric.clear_faults()

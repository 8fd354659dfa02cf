"""The fixture index: exact texts, contained texts (one automaton per condition) and the rest are looked up apart,
yet the first fixture in load order that matches always answers, used-up fixtures leave every index, and texts
that overlap, nest or repeat are all found."""

from __future__ import annotations

import random

from mockfabric.fixture.answers import Asked, Fixtures


def asked(user: str, system: str = "", instance: tuple[str, str] = ("i-1", "inst-a")) -> Asked:
    return Asked(instance, ("w-1", "ws"), "m", user, system, 1, False)


def answer_of(fixtures: Fixtures, question: Asked) -> str | None:
    found = fixtures.take(question)
    return None if found is None else str(found.spec["answer"]["content"])


def spec(match: dict[str, object], content: str, times: int | None = None) -> dict[str, object]:
    return {"match": match, "answer": {"content": content}, **({"times": times} if times else {})}


def test_the_first_in_load_order_answers_across_every_index() -> None:
    fixtures = Fixtures()
    fixtures.add(
        [
            spec({"user": {"contains": "wea"}}, "contains-once", times=1),
            spec({"user": {"regex": "weather"}}, "regex"),
            spec({"user": {"equals": "weather?"}}, "equals"),
            spec({"system": {"contains": "pirate"}}, "pirate"),
            spec({"instance": {"contains": "st-b"}}, "by instance name"),
            spec({"user": {"contains": "ther"}, "system": {"contains": "pirate"}}, "both"),
        ],
        "test",
    )
    assert answer_of(fixtures, asked("weather?")) == "contains-once"
    assert answer_of(fixtures, asked("weather?")) == "regex"  # used up: the next in load order
    assert answer_of(fixtures, asked("other", system="a pirate")) == "pirate"  # before "both", loaded later
    assert answer_of(fixtures, asked("x", instance=("i-2", "inst-b"))) == "by instance name"
    assert answer_of(fixtures, asked("nothing")) is None
    assert fixtures.items[0].spec["answer"]["content"] == "regex"  # the used-up one left the list


def test_nested_and_overlapping_needles_are_all_found() -> None:
    fixtures = Fixtures()
    fixtures.add([spec({"user": {"contains": "hello"}}, "long"), spec({"user": {"contains": "he"}}, "short")], "a")
    fixtures.add([spec({"user": {"contains": "llo t"}}, "overlap")], "b")  # added later: the automaton is made again
    assert answer_of(fixtures, asked("say hello there")) == "long"
    assert answer_of(fixtures, asked("he")) == "short"
    assert answer_of(fixtures, asked("a llo t")) == "overlap"


def test_the_index_agrees_with_trying_every_fixture_in_order() -> None:
    rng = random.Random(20)
    words = ["alpha", "beta", "gamma", "alp", "ta g", "a", "mm"]
    specs = []
    for index in range(300):
        kind = rng.choice(["equals", "contains", "regex"])
        specs.append(spec({"user": {kind: rng.choice(words) if kind != "regex" else rng.choice(words) + "$"}}, f"f{index}"))
    fixtures = Fixtures()
    fixtures.add(specs, "random")
    for _ in range(200):
        question = asked(" ".join(rng.choice(words) for _ in range(rng.randint(1, 3))))
        expected = next((f.spec["answer"]["content"] for f in fixtures.items if f.matches(question)), None)
        assert answer_of(fixtures, question) == expected

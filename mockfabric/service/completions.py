"""Chat completions: what the model answers, how it is tokenized, and the chunk sequence of a streamed answer.

Tokenizer (one, used for chunking and usage alike): a token is an optional run of whitespace followed by up to
six letters/digits, or by one other character; trailing whitespace is a token of its own. Joining the tokens
gives the text back exactly. Usage: prompt_tokens = sum over messages of (tokens of content + 3);
completion_tokens = tokens of the answer, per choice, summed over choices.

Content: an answer decided beforehand (`Scripted`, from the fixture layer: its text, perhaps cut into explicit
chunks with their own delays, reported usage, what happens to it on the way) if there is one, else the
mode: `echo` (the last user message) or `generate` (text drawn from a fixed vocabulary
with an RNG seeded by the emulator seed and the request, so the same request gives the same answer).
Answers are cut at the token limit (`max_tokens` or `max_completion_tokens`; 0 or absent = 4096), and then end
with finish_reason `length` instead of `stop`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..effects import FaultEffect

TOKEN = re.compile(r"\s*(?:\w{1,6}|[^\w\s])|\s+")
DEFAULT_MAX_TOKENS = 4096
MESSAGE_OVERHEAD = 3
_VOCABULARY_PROSE = (
    "the model answers offline with deterministic text so that tests can assert on it while the emulator keeps "
    "every chunk rule of the streaming protocol intact and usage counts match between streamed and plain answers "
    "large language models generate tokens one at a time inference endpoint service instance workspace"
)
VOCABULARY = _VOCABULARY_PROSE.split()


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text)


@dataclass(frozen=True, slots=True)
class ChunkShape:
    """How a stream is cut into chunks. The service's documented chunk (the seed flow) carries the role and the first
    content fragment in one delta (`content_first`); some OpenAI-style servers send an empty role delta first."""

    content_first: bool = True
    tokens: int = 1  # tokens per content chunk


DOCUMENTED_SHAPE = ChunkShape()


@dataclass(frozen=True, slots=True)
class Fragment:
    """One streamed chunk of an answer's content as it was decided, and the emulator milliseconds before it (None:
    the instance's pacing)."""

    text: str
    delay_ms: float | None = None


@dataclass(frozen=True, slots=True)
class Scripted:
    """An answer decided beforehand. With `fragments` the content streams in exactly those chunks (their texts join
    to `content`); `usage` replaces the counted figures it names; `effect` is what happens to it on the way."""

    content: str
    reasoning_content: str | None = None
    finish_reason: str | None = None  # None = computed (stop, or length when cut)
    fragments: tuple[Fragment, ...] | None = None
    usage: Mapping[str, int] | None = None
    effect: FaultEffect | None = None


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    tokens: list[str]
    finish_reason: str
    reasoning: list[str] | None = None  # the reasoning's tokens (a reasoning model, or a scripted reasoning_content)
    fragments: tuple[Fragment, ...] | None = None  # the content's explicit chunks, when the answer was cut so

    @property
    def content(self) -> str:
        return "".join(self.tokens)

    @property
    def reasoning_content(self) -> str | None:
        return None if self.reasoning is None else "".join(self.reasoning)


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer, decided before the first byte is sent: both modes of delivery render this same object."""

    id: str
    created: int
    model: str
    choices: list[Choice]
    prompt_tokens: int
    reported: Mapping[str, int] | None = None  # usage figures the answer reports instead of the counted ones

    @property
    def completion_tokens(self) -> int:
        """The answers' tokens, reasoning included (as reasoning models count them; inferred for this service)."""
        return sum(len(choice.tokens) + len(choice.reasoning or ()) for choice in self.choices)

    @property
    def total_tokens(self) -> int:
        """What the answer reports it used: what the endpoint's quota and metrics count."""
        total: int = self.usage()["total_tokens"]
        return total

    def usage(self) -> dict[str, Any]:
        """Token counts, as counted or as reported (`reported` figures win; a total not reported is the sum of the
        prompt and completion figures); with reasoning, how many completion tokens were reasoning (OpenAI's field)."""
        reported = self.reported or {}
        prompt = reported.get("prompt_tokens", self.prompt_tokens)
        completion = reported.get("completion_tokens", self.completion_tokens)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": reported.get("total_tokens", prompt + completion),
        }
        reasoning = reported.get("reasoning_tokens")
        if reasoning is None and any(choice.reasoning is not None for choice in self.choices):
            reasoning = sum(len(choice.reasoning or ()) for choice in self.choices)
        if reasoning is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def as_json(self) -> dict[str, Any]:
        choices = []
        for choice in self.choices:
            message: dict[str, Any] = {"role": "assistant", "content": choice.content}
            if choice.reasoning_content is not None:
                message["reasoning_content"] = choice.reasoning_content
            choices.append({"index": choice.index, "message": message, "finish_reason": choice.finish_reason})
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": choices,
            "usage": self.usage(),
            "system_fingerprint": None,
        }

    def paced_chunks(self, include_usage: bool, shape: ChunkShape = DOCUMENTED_SHAPE) -> Iterator[PacedChunk]:
        """The streamed form: per choice a first delta with the role (and, in the documented shape, the first
        fragment: of reasoning when there is any, else of content), then `shape.tokens` tokens per chunk (or the
        answer's own fragments), reasoning (`reasoning_content`) before content, one finish chunk per choice, then
        usage if asked for. Joining every choice's deltas gives the unstreamed answer's texts exactly, whatever the
        shape. Each chunk comes with whether it carries a token (what pacing waits for) and its own delay, if any."""
        streams = [(choice.index, _deltas(choice, shape.tokens), _own_delays(choice, shape.tokens)) for choice in self.choices]
        for index, deltas, delays in streams:
            first: dict[str, Any] = {"role": "assistant", "content": ""}
            carries = shape.content_first and bool(deltas)
            if carries:
                first.update(deltas[0])
            yield self._chunk(index, first, None), carries, delays[0] if carries and delays is not None else None
        longest = max((len(deltas) for _, deltas, _ in streams), default=0)
        for position in range(1 if shape.content_first else 0, longest):  # the first fragment went with the role
            for index, deltas, delays in streams:
                if position < len(deltas):
                    yield self._chunk(index, deltas[position], None), True, delays[position] if delays is not None else None
        for choice in self.choices:
            yield self._chunk(choice.index, {}, choice.finish_reason), False, None
        if include_usage:
            usage = {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage(),
                "system_fingerprint": None,
            }
            yield usage, False, None

    def _chunk(self, index: int, delta: dict[str, Any], finish_reason: str | None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish_reason}],
            "usage": None,
            "system_fingerprint": None,
        }


def _fragments(tokens: list[str], size: int) -> list[str]:
    return tokens if size == 1 else ["".join(tokens[start : start + size]) for start in range(0, len(tokens), size)]


PacedChunk = tuple[dict[str, Any], bool, float | None]  # chunk, carries a token, its own delay in ms (None: paced)


def _deltas(choice: Choice, size: int) -> list[dict[str, str]]:
    """A choice's deltas after the role: its reasoning's fragments, then its content's (its own, when it has them)."""
    reasoning = [{"reasoning_content": piece} for piece in _fragments(choice.reasoning or [], size)]
    if choice.fragments is not None:
        return [*reasoning, *({"content": f.text} for f in choice.fragments)]
    return [*reasoning, *({"content": piece} for piece in _fragments(choice.tokens, size))]


def _own_delays(choice: Choice, size: int) -> list[float | None] | None:
    """The delay of each of a choice's deltas (parallel to `_deltas`) when its fragments set any; None when none does
    (kept apart from the deltas: a stream may have a million of them)."""
    if choice.fragments is None or all(f.delay_ms is None for f in choice.fragments):
        return None
    reasoning: list[float | None] = [None] * len(_fragments(choice.reasoning or [], size))
    return [*reasoning, *(f.delay_ms for f in choice.fragments)]


def cut_fragments(fragments: tuple[Fragment, ...], length: int) -> tuple[Fragment, ...]:
    """The fragments that carry the first `length` characters of their joined text (the last one cut to fit)."""
    kept: list[Fragment] = []
    for fragment in fragments:
        if length <= 0:
            break
        kept.append(fragment if len(fragment.text) <= length else Fragment(fragment.text[:length], fragment.delay_ms))
        length -= len(fragment.text)
    return tuple(kept)


def token_limit(body: Mapping[str, Any]) -> int:
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    return DEFAULT_MAX_TOKENS if not limit else int(limit)


def prompt_tokens(messages: list[Mapping[str, Any]]) -> int:
    return sum(len(tokenize(message.get("content", ""))) + MESSAGE_OVERHEAD for message in messages)


DELIVERY_FIELDS = ("stream", "stream_options")  # how the answer travels, not what it says


def request_seed(seed: int | None, body: Mapping[str, Any]) -> int:
    """The RNG seed of one request: the emulator seed and the request, less its delivery options, so that the
    same question answers the same text streamed or not."""
    content = {k: v for k, v in body.items() if k not in DELIVERY_FIELDS}
    canonical = json.dumps({"seed": seed, "request": content}, sort_keys=True, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")


def generated_text(rng: random.Random) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(12, 40))]
    return " ".join(words).capitalize() + "."


def answer_text(mode: str, body: Mapping[str, Any], rng: random.Random) -> str:
    if mode == "echo":
        users = [m for m in body["messages"] if m.get("role") == "user"]
        return str((users or body["messages"])[-1].get("content", ""))
    return generated_text(rng)


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything about an answer that depends on the request alone (its prompt's size, the unscripted answer of
    each choice), worked out before the store lock is taken: for a 10 MB prompt that is most of the cost."""

    limit: int
    prompt_tokens: int
    unscripted: list[list[str]]  # the tokens each choice answers when nothing is scripted
    seed: int = 0  # the request's own seed: what a reasoning model thinks is drawn from it


def draft_completion(body: Mapping[str, Any], mode: str, seed: int | None) -> Draft:
    limit = token_limit(body)
    choices = int(body.get("n", 1))
    own_seed = request_seed(seed, body)
    if mode == "echo":  # every choice echoes the same message: tokenize it once
        unscripted = [tokenize(answer_text(mode, body, random.Random(0)))] * choices
    else:
        rng = random.Random(own_seed)
        unscripted = [tokenize(answer_text(mode, body, rng)) for _ in range(choices)]
    return Draft(limit, prompt_tokens(list(body["messages"])), unscripted, own_seed)


def build_completion(
    *, completion_id: str, created: int, model: str, draft: Draft, scripted: Scripted | None, reasoning: bool = False
) -> Completion:
    """The answer: scripted, else drafted; a reasoning model's generated answers reason first (drawn from the
    request's seed, so the same request reasons alike). The token limit bounds the content, not the reasoning."""
    choices = []
    scripted_tokens = tokenize(scripted.content) if scripted is not None else None
    fragments = None
    if scripted is not None and scripted.fragments is not None:
        fragments = cut_fragments(scripted.fragments, sum(map(len, (scripted_tokens or [])[: draft.limit])))
    for index, unscripted in enumerate(draft.unscripted):
        tokens = scripted_tokens if scripted_tokens is not None else unscripted
        finish = "length" if len(tokens) > draft.limit else "stop"
        if scripted is not None and scripted.finish_reason is not None:
            finish = scripted.finish_reason
        choices.append(Choice(index, tokens[: draft.limit], finish, _reasoning(scripted, reasoning, draft.seed + index), fragments))
    reported = scripted.usage if scripted is not None else None
    return Completion(completion_id, created, model, choices, draft.prompt_tokens, reported)


def _reasoning(scripted: Scripted | None, reasoning_model: bool, seed: int) -> list[str] | None:
    if scripted is not None:
        return tokenize(scripted.reasoning_content) if scripted.reasoning_content is not None else None
    return tokenize("Thinking: " + generated_text(random.Random(seed))) if reasoning_model else None

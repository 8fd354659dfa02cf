"""Chat completions: what the model answers, how it is tokenized, and the chunk sequence of a streamed answer.

Tokenizer (one, used for chunking and usage alike): a token is an optional run of whitespace followed by up to
six letters/digits, or by one other character; trailing whitespace is a token of its own. Joining the tokens
gives the text back exactly. Usage: prompt_tokens = sum over messages of (tokens of content and of the tool calls
an assistant message made + 3); completion_tokens = tokens of the answer (content, reasoning, each tool call's name
and arguments), per choice, summed over choices.

Content: an answer decided beforehand (`Scripted`, from the fixture layer: its text, perhaps cut into explicit
chunks with their own delays, reported usage, what happens to it on the way) if there is one, else the
mode: `echo` (the last user message) or `generate` (text drawn from a fixed vocabulary
with an RNG seeded by the emulator seed and the request, so the same request gives the same answer).
Answers are cut at the token limit (`max_tokens` or `max_completion_tokens`; 0 or absent = 4096), and then end
with finish_reason `length` instead of `stop`. An answer may call tools (service/tools.py): a forced tool_choice's
call in generate mode, or the calls decided beforehand; it then ends with finish_reason `tool_calls`, its calls after
its content, and the limit does not cut them.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import RuleViolated
from .json_answers import UnsupportedSchema, instance_of, json_object
from .tools import ToolCall, as_message_calls, call_deltas, call_text, forced_call, message_calls_text, with_ids
from .tools import delta_count as call_delta_count

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
    content_tokens: int | None = None  # the content's tokens when known beforehand (a fixture counts them once)
    tool_calls: tuple[ToolCall, ...] = ()  # functions the answer calls (after its content); finish_reason tool_calls
    origin: str | None = None  # who decided it, as the journal names it: a fixture's file#index, or the control API


@dataclass(frozen=True, slots=True)
class Choice:
    """One choice of an answer, as texts and their token counts: its chunks are cut from the texts as the stream
    takes them (`paced_chunks`), never held as a list, so an answer of 16 x 32 768 tokens holds its texts only."""

    index: int
    content: str  # already cut at the token limit
    content_tokens: int
    finish_reason: str
    reasoning_content: str | None = None  # a reasoning model's, or a scripted reasoning_content
    reasoning_tokens: int = 0
    fragments: tuple[Fragment, ...] | None = None  # the content's explicit chunks, when the answer was cut so
    tool_calls: tuple[ToolCall, ...] = ()  # each with its id
    tool_tokens: int = 0

    def delta_count(self, size: int) -> int:
        """How many chunks after the role carry a piece of it when `size` tokens go in a chunk."""
        content = len(self.fragments) if self.fragments is not None else -(-self.content_tokens // size)
        calls = call_delta_count(self.tool_calls, count_tokens, size) if self.tool_calls else 0
        return -(-self.reasoning_tokens // size) + content + calls


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer, decided before the first byte is sent: both modes of delivery render this same object."""

    id: str
    created: int
    model: str
    choices: list[Choice]
    prompt_tokens: int
    reported: Mapping[str, int] | None = None  # usage figures the answer reports instead of the counted ones
    answered_by: str | None = None  # the origin of the scripted answer it is, if it is one

    @property
    def completion_tokens(self) -> int:
        """The answers' tokens, reasoning included (as reasoning models count them; inferred for this service)."""
        return sum(choice.content_tokens + choice.reasoning_tokens + choice.tool_tokens for choice in self.choices)

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
        if reasoning is None and any(choice.reasoning_content is not None for choice in self.choices):
            reasoning = sum(choice.reasoning_tokens for choice in self.choices)
        if reasoning is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        return usage

    def as_json(self) -> dict[str, Any]:
        choices = []
        for choice in self.choices:
            message: dict[str, Any] = {"role": "assistant", "content": choice.content}
            if choice.reasoning_content is not None:
                message["reasoning_content"] = choice.reasoning_content
            if choice.tool_calls:  # a call alone has no content: null, as OpenAI-compatible servers send it
                message["content"] = choice.content or None
                message["tool_calls"] = as_message_calls(choice.tool_calls)
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
        size = shape.tokens
        first_chunks: list[PacedChunk] = []
        rest: list[tuple[int, Iterator[tuple[dict[str, str], float | None]]]] = []
        for choice in self.choices:
            deltas = _deltas(choice, size)
            first: dict[str, Any] = {"role": "assistant", "content": ""}
            carries = shape.content_first and choice.delta_count(size) > 0
            own = None
            if carries:
                delta, own = next(deltas)
                first.update(delta)
            first_chunks.append((self._chunk(choice.index, first, None), carries, own))
            rest.append((choice.index, deltas))
        yield from first_chunks
        if len(rest) == 1:  # one choice, the usual case: nothing to interleave
            index, deltas = rest[0]
            for delta, own in deltas:
                yield self._chunk(index, delta, None), True, own
            rest = []
        while rest:  # position by position across the choices, each until its own deltas run out
            still = []
            for index, deltas in rest:
                for delta, own in itertools.islice(deltas, 1):
                    yield self._chunk(index, delta, None), True, own
                    still.append((index, deltas))
            rest = still
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


PacedChunk = tuple[dict[str, Any], bool, float | None]  # chunk, carries a token, its own delay in ms (None: paced)


def pieces(text: str, size: int) -> Iterator[str]:
    """The text's tokens, `size` of them joined per piece (the last piece may hold fewer), found as they are taken."""
    tokens = (match.group() for match in TOKEN.finditer(text))
    if size == 1:
        return tokens
    return ("".join(group) for group in iter(lambda: tuple(itertools.islice(tokens, size)), ()))


def _deltas(choice: Choice, size: int) -> Iterator[tuple[dict[str, str], float | None]]:
    """A choice's deltas after the role, each with its own delay (None: paced): its reasoning's pieces, then its
    content's (its own fragments, when it has them). Made one at a time: a stream may have a million of them."""
    if choice.reasoning_content is not None:
        for piece in pieces(choice.reasoning_content, size):
            yield {"reasoning_content": piece}, None
    if choice.fragments is not None:
        for fragment in choice.fragments:
            yield {"content": fragment.text}, fragment.delay_ms
    else:
        for piece in pieces(choice.content, size):
            yield {"content": piece}, None
    for delta in call_deltas(choice.tool_calls, pieces, size):
        yield delta, None


def count_tokens(text: str) -> int:
    return len(TOKEN.findall(text))


def cut_at(text: str, tokens: int, limit: int) -> str:
    """The first `limit` tokens of a text of `tokens` tokens (the text itself when it has no more): a prefix, which
    tokenizes into exactly those tokens."""
    if tokens <= limit:
        return text
    end = 0
    for match in itertools.islice(TOKEN.finditer(text), limit):
        end = match.end()
    return text[:end]


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
    return sum(message_tokens(messages)) + MESSAGE_OVERHEAD * len(messages)


def message_tokens(messages: list[Mapping[str, Any]]) -> list[int]:
    """The tokens of each message's content (and of the calls an assistant message made)."""
    return [count_tokens(message_text(message)) + _calls_tokens(message) for message in messages]


def message_text(message: Mapping[str, Any]) -> str:
    """A request message's content as text ("" when it has none: an assistant message that only called tools)."""
    content = message.get("content")
    return content if isinstance(content, str) else ""


def _calls_tokens(message: Mapping[str, Any]) -> int:
    return count_tokens(message_calls_text(message)) if message.get("tool_calls") else 0


DELIVERY_FIELDS = ("stream", "stream_options", "stop")  # how the answer travels or where it ends, not what it says


def request_seed(seed: int | None, body: Mapping[str, Any]) -> int:
    """The RNG seed of one request: the emulator seed and the request, less its delivery options, so that the
    same question answers the same text streamed or not."""
    content = {k: v for k, v in body.items() if k not in DELIVERY_FIELDS}
    canonical = json.dumps({"seed": seed, "request": content}, sort_keys=True, ensure_ascii=False)
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")


def generated_text(rng: random.Random) -> str:
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(12, 40))]
    return " ".join(words).capitalize() + "."


def echoed(messages: list[Mapping[str, Any]]) -> int:
    """Which message echo mode answers with: the last user message (the last message when no user spoke)."""
    users = [place for place, message in enumerate(messages) if message.get("role") == "user"]
    return users[-1] if users else len(messages) - 1


Answer = tuple[str, int]  # a text, already cut at the token limit, and its tokens


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything about an answer that depends on the request alone (its prompt's size, the unscripted answer of
    each choice), worked out before the store lock is taken: for a 10 MB prompt that is most of the cost. Each
    text is tokenized once, to count it; its chunks are cut from it only as a stream takes them."""

    limit: int
    prompt_tokens: int
    unscripted: list[Answer]  # what each choice answers when nothing is scripted, cut at the limit
    seed: int = 0  # the request's own seed: what a reasoning model thinks is drawn from it
    cut: tuple[bool, ...] = ()  # whether each unscripted answer was cut at the limit
    stops: tuple[str, ...] = ()  # `stop`: an answer ends before the first of these it holds (x-inferred)
    calls: tuple[ToolCall | None, ...] = ()  # per choice, the call a forced tool_choice makes (x-inferred)


def draft_completion(body: Mapping[str, Any], mode: str, seed: int | None) -> Draft:
    limit = token_limit(body)
    choices = int(body.get("n", 1))
    own_seed = request_seed(seed, body)
    messages = list(body["messages"])
    counts = message_tokens(messages)
    calls: list[ToolCall | None] = [None] * choices
    if mode == "echo":  # every choice echoes the same message, counted with the prompt already
        forced_call(body, random.Random(own_seed))  # a tool_choice the tools cannot meet is refused in every mode
        place = echoed(messages)
        texts = [(message_text(messages[place]), count_tokens(message_text(messages[place])))] * choices
    else:
        rng = random.Random(own_seed)
        texts = []
        for index in range(choices):
            calls[index] = forced_call(body, rng)
            text = "" if calls[index] is not None else _generated(body, rng)
            texts.append((text, count_tokens(text)))
    cuts = {id(text): (cut_at(text, tokens, limit), min(tokens, limit)) for text, tokens in texts}  # echo: one cut for all
    return Draft(
        limit,
        sum(counts) + MESSAGE_OVERHEAD * len(messages),
        [cuts[id(text)] for text, _ in texts],
        own_seed,
        tuple(tokens > limit for _, tokens in texts),
        stop_sequences(body),
        tuple(calls),
    )


def stop_sequences(body: Mapping[str, Any]) -> tuple[str, ...]:
    """`stop` as a tuple: one string or a list of them; empty strings stop nothing."""
    stop = body.get("stop")
    listed = [stop] if isinstance(stop, str) else list(stop or ())
    return tuple(text for text in listed if text)


def _generated(body: Mapping[str, Any], rng: random.Random) -> str:
    """Generate mode's text: prose, or JSON when `response_format` asks for it (x-inferred: an OpenAI-compatible
    backend answers json_object with a JSON object, json_schema with an instance of its schema)."""
    asked = body.get("response_format") or {}
    kind = asked.get("type", "text") if isinstance(asked, Mapping) else "text"
    if kind == "json_object":
        return json.dumps(json_object(rng, generated_text(rng)), ensure_ascii=False)
    if kind == "json_schema":
        schema = (asked.get("json_schema") or {}).get("schema", {})
        try:
            return json.dumps(instance_of(schema, rng), ensure_ascii=False)
        except UnsupportedSchema as exc:
            raise RuleViolated(str(exc), field="response_format.json_schema.schema") from None
    return generated_text(rng)


def build_completion(
    *, completion_id: str, created: int, model: str, draft: Draft, scripted: Scripted | None, reasoning: bool = False
) -> Completion:
    """The answer: scripted, else drafted; a reasoning model's generated answers reason first (drawn from the
    request's seed, so the same request reasons alike). The token limit bounds the content, not the reasoning."""
    decided = _decided(scripted, draft.limit) if scripted is not None else None
    choices = []
    for index, (text, tokens) in enumerate(draft.unscripted):
        content = _stopped(decided or (text, tokens, "length" if draft.cut[index] else "stop", None), draft.stops)
        thought = _reasoning(scripted, reasoning, draft.seed + index)
        thought_tokens = count_tokens(thought) if thought is not None else 0
        calls = with_ids(_calls(scripted, draft, index), completion_id, index)
        finish = "tool_calls" if calls and (scripted is None or scripted.finish_reason is None) else content[2]
        called = sum(count_tokens(call_text(call)) for call in calls)
        choices.append(Choice(index, content[0], content[1], finish, thought, thought_tokens, content[3], calls, called))
    reported = scripted.usage if scripted is not None else None
    origin = scripted.origin if scripted is not None else None
    return Completion(completion_id, created, model, choices, draft.prompt_tokens, reported, origin)


def _calls(scripted: Scripted | None, draft: Draft, index: int) -> tuple[ToolCall, ...]:
    """The calls a choice makes: the scripted answer's, else the one a forced tool_choice drew for it."""
    if scripted is not None:
        return scripted.tool_calls
    forced = draft.calls[index] if index < len(draft.calls) else None
    return (forced,) if forced is not None else ()


def _decided(scripted: Scripted, limit: int) -> tuple[str, int, str, tuple[Fragment, ...] | None]:
    """A scripted answer's content cut at the limit, its tokens, its finish reason and its fragments (cut alike)."""
    tokens = scripted.content_tokens if scripted.content_tokens is not None else count_tokens(scripted.content)
    content = cut_at(scripted.content, tokens, limit)
    finish = scripted.finish_reason if scripted.finish_reason is not None else "length" if tokens > limit else "stop"
    fragments = None if scripted.fragments is None else cut_fragments(scripted.fragments, len(content))
    return content, min(tokens, limit), finish, fragments


def _stopped(
    content: tuple[str, int, str, tuple[Fragment, ...] | None], stops: tuple[str, ...]
) -> tuple[str, int, str, tuple[Fragment, ...] | None]:
    """The content ended before the first stop sequence it holds (the sequence itself not included), then with
    finish_reason stop; as it was when it holds none."""
    text, _, _, fragments = content
    found = [place for place in (text.find(stop) for stop in stops) if place >= 0]
    if not found:
        return content
    kept = text[: min(found)]
    return kept, count_tokens(kept), "stop", None if fragments is None else cut_fragments(fragments, len(kept))


def _reasoning(scripted: Scripted | None, reasoning_model: bool, seed: int) -> str | None:
    if scripted is not None:
        return scripted.reasoning_content
    return "Thinking: " + generated_text(random.Random(seed)) if reasoning_model else None

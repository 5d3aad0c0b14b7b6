"""Pure prompt building for grounded chat: numbered sources in, cited source numbers out."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ragweave import records
from ragweave.errors import BadLLMOutput

MAX_SOURCE_CHARS = 1500
_CITATION = re.compile(r"\[(\d{1,3})\]")

GROUNDING_RULES = (
    "Answer the user's question using only the numbered sources below. Cite every claim with the number of "
    "its source in square brackets, like [1]. If the sources do not contain the answer, say so."
)


def grounded_messages(
    messages: Sequence[records.ChatMessage], sources: Sequence[records.Chunk]
) -> list[records.ChatMessage]:
    if not sources:
        return list(messages)
    numbered = "\n\n".join(
        f"[{n}] {chunk.document_title or chunk.document_id}\n{chunk.text[:MAX_SOURCE_CHARS]}"
        for n, chunk in enumerate(sources, start=1)
    )
    return [records.ChatMessage("system", f"{GROUNDING_RULES}\n\nSources:\n{numbered}"), *messages]


def cited_sources(answer: str, source_count: int) -> list[int]:
    """0-based indexes of the sources the answer cites, in order of first citation."""
    seen: dict[int, None] = {}
    for match in _CITATION.finditer(answer):
        number = int(match.group(1))
        if 1 <= number <= source_count:
            seen.setdefault(number - 1)
    return list(seen)


def last_user_message(messages: Sequence[records.ChatMessage]) -> str | None:
    return next((m.content for m in reversed(messages) if m.role == "user"), None)


def require_json(content: str) -> None:
    try:
        json.loads(content)
    except json.JSONDecodeError:
        raise BadLLMOutput("the model did not answer with valid JSON", answer=content[:4000]) from None

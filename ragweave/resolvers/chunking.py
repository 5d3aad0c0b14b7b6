"""Split a document into overlapping chunks that end at natural boundaries (sizes in characters).

Every chunk is cut at the best boundary inside its window of `size` characters, trying in order:
a paragraph end (a blank line), a sentence end (`.`, `!` or `?` before whitespace, or a line break),
then any word end; a level is only taken when its cut keeps the chunk at least half full, else the
next level is tried. Each chunk ends past the previous one; a Markdown heading line is no paragraph or
sentence end (it belongs to the text below it).
A word longer than the window is hard-split at `size`.

The next chunk starts about `overlap` characters before the previous end, at the earliest sentence start
that keeps at least half the overlap, else at the earliest word start that fits in the overlap.
Chunk text is never altered: whitespace is trimmed by moving offsets, so `text[start:end] == chunk.text`.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

from ragweave.records import ChunkSpan

_PARAGRAPH_END = re.compile(r"(?<=\S)[ \t]*\r?\n[ \t]*\r?\n")
_LINE_END = re.compile(r"(?<=\S)[ \t]*\r?\n")
_SENTENCE_END = re.compile(r"(\b[\w.]+)?[.!?]+[\"'\u201d\u2019)\]]*(?=\s)")
_WORD_END = re.compile(r"(?<=\S)\s")
_WORD_START = re.compile(r"(?<=\s)\S")
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "mx", "prof", "st", "sr", "jr", "vs", "e.g", "i.e", "cf"})


def _validate(size: int, overlap: int) -> None:
    if size <= 0:
        raise ValueError(f"chunk size must be positive, got {size}")
    if not 0 <= overlap < size:
        raise ValueError(f"chunk overlap must be in [0, size), got {overlap} for size {size}")


def _sentence_cuts(text: str) -> list[int]:
    """Offsets just after each sentence's last character (terminal punctuation or end of a line)."""
    cuts = {m.start() for m in _LINE_END.finditer(text)}
    for match in _SENTENCE_END.finditer(text):
        word = (match.group(1) or "").lower()
        if word not in _ABBREVIATIONS:
            cuts.add(match.end())
    return sorted(cuts)


def _skip_space(text: str, offset: int) -> int:
    while offset < len(text) and text[offset].isspace():
        offset += 1
    return offset


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, whitespace trimmed; line breaks also end a sentence."""
    spans = []
    start = _skip_space(text, 0)
    for cut in [*_sentence_cuts(text), len(text.rstrip())]:
        if cut > start:
            spans.append((start, cut))
            start = _skip_space(text, cut)
    return spans


def _ends_heading(text: str, cut: int) -> bool:
    """A Markdown heading belongs to the text below it, so no chunk ends right after one."""
    line_start = text.rfind("\n", 0, cut) + 1
    return text[line_start:cut].lstrip().startswith("#")


def _latest(cuts: list[int], low: int, high: int) -> int | None:
    """The largest cut with low < cut <= high."""
    index = bisect_right(cuts, high) - 1
    return cuts[index] if index >= 0 and cuts[index] > low else None


def _earliest(starts: list[int], low: int, high: int) -> int | None:
    """The smallest start with low <= start <= high."""
    index = bisect_left(starts, low)
    return starts[index] if index < len(starts) and starts[index] <= high else None


@dataclass(frozen=True, slots=True)
class _Boundaries:
    paragraph_cuts: list[int]
    sentence_cuts: list[int]
    word_cuts: list[int]
    sentence_starts: list[int]
    word_starts: list[int]

    @classmethod
    def of(cls, text: str) -> _Boundaries:
        sentence_cuts = _sentence_cuts(text)
        return cls(
            paragraph_cuts=[m.start() for m in _PARAGRAPH_END.finditer(text) if not _ends_heading(text, m.start())],
            sentence_cuts=[cut for cut in sentence_cuts if not _ends_heading(text, cut)],
            word_cuts=[m.start() for m in _WORD_END.finditer(text)],
            sentence_starts=sorted({_skip_space(text, cut) for cut in sentence_cuts}),
            word_starts=[m.start() for m in _WORD_START.finditer(text)],
        )

    def cut(self, start: int, size: int, previous_end: int) -> int:
        """Where a chunk starting at `start` ends: the best boundary in its window past the previous chunk's end,
        or a hard split."""
        limit, earliest = start + size, max(start, previous_end)
        half_full = max(start + size // 2, earliest)
        for cuts in (self.paragraph_cuts, self.sentence_cuts, self.word_cuts):
            found = _latest(cuts, half_full, limit)
            if found is not None:
                return found
        found = _latest(self.word_cuts, earliest, limit)
        return found if found is not None else limit

    def next_start(self, text: str, start: int, end: int, overlap: int) -> int:
        """Where the chunk after [start, end) begins: inside the overlap, at a sentence or word start."""
        if overlap > 0:
            low = max(end - overlap, start + 1)
            found = _earliest(self.sentence_starts, low, end - (overlap + 1) // 2)
            if found is None:
                found = _earliest(self.word_starts, low, end - 1)
            if found is not None:
                return found
        return _skip_space(text, end)


def chunk_text(text: str, *, size: int = 800, overlap: int = 120) -> list[ChunkSpan]:
    """Cut `text` into chunks of at most `size` characters overlapping by about `overlap` characters."""
    _validate(size, overlap)
    content_end = len(text.rstrip())
    boundaries = _Boundaries.of(text)
    spans: list[ChunkSpan] = []
    start = end = _skip_space(text, 0)
    while start < content_end:
        end = content_end if content_end - start <= size else boundaries.cut(start, size, previous_end=end)
        spans.append(ChunkSpan(index=len(spans), start=start, end=end, text=text[start:end]))
        if end >= content_end:
            break
        start = boundaries.next_start(text, start, end, overlap)
    return spans

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

import ragweave.demo
from ragweave.resolvers.chunking import chunk_text, sentence_spans

CORPUS = Path(ragweave.demo.__file__).parent / "corpus"
DOCUMENTS = {path.stem: path.read_text(encoding="utf-8") for path in sorted(CORPUS.glob("*.md"))}
SETTINGS = [(100, 20), (300, 50), (800, 120), (1500, 0), (250, 249)]


def ends_a_sentence(text: str, end: int) -> bool:
    return text[end - 1] in ".!?" or text[end:end + 1] == "\n"


@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
@pytest.mark.parametrize("stem", sorted(DOCUMENTS))
def test_offsets_slice_the_original_text_exactly(stem: str, size: int, overlap: int):
    text = DOCUMENTS[stem]
    spans = chunk_text(text, size=size, overlap=overlap)
    assert [s.index for s in spans] == list(range(len(spans)))
    for span in spans:
        assert text[span.start : span.end] == span.text
        assert 0 < len(span.text) <= size
        assert span.text == span.text.strip()
    assert all(b.start > a.start and b.end > a.end for a, b in pairwise(spans))


@pytest.mark.parametrize(("size", "overlap"), SETTINGS)
def test_every_non_space_character_is_in_some_chunk(size: int, overlap: int):
    text = DOCUMENTS["atlas-engine"]
    covered = set()
    for span in chunk_text(text, size=size, overlap=overlap):
        covered.update(range(span.start, span.end))
    assert all(i in covered for i, char in enumerate(text) if not char.isspace())


@pytest.mark.parametrize("stem", sorted(DOCUMENTS))
def test_chunks_end_at_sentence_ends_and_start_at_word_starts(stem: str):
    text = DOCUMENTS[stem]
    spans = chunk_text(text, size=800, overlap=120)
    assert len(spans) > 1
    assert all(ends_a_sentence(text, span.end) for span in spans)
    assert all(text[span.start - 1].isspace() for span in spans[1:])


def test_every_chunk_prefers_paragraph_ends():
    paragraph = "Paragraph {} has a first sentence. It also has a second, somewhat longer sentence."
    text = "\n\n".join(paragraph.format(i) for i in range(9))
    spans = chunk_text(text, size=200, overlap=0)
    assert len(spans) > 3
    assert all(text[span.end :].startswith("\n\n") for span in spans[:-1])
    assert all(span.text.startswith("Paragraph") for span in spans)


@pytest.mark.parametrize("stem", sorted(DOCUMENTS))
def test_a_heading_stays_with_the_text_below_it(stem: str):
    for span in chunk_text(DOCUMENTS[stem], size=800, overlap=120):
        assert not span.text.splitlines()[-1].startswith("#")


def test_sentence_ends_are_used_when_a_paragraph_does_not_fit():
    text = " ".join(f"Sentence number {i} talks about the harbour." for i in range(40))
    spans = chunk_text(text, size=150, overlap=0)
    assert all(span.text.endswith("harbour.") for span in spans)
    assert all(span.text.startswith("Sentence number") for span in spans)


@pytest.mark.parametrize("stem", sorted(DOCUMENTS))
def test_consecutive_chunks_overlap_by_at_most_the_overlap(stem: str):
    spans = chunk_text(DOCUMENTS[stem], size=800, overlap=120)
    shared = [a.end - b.start for a, b in pairwise(spans)]
    assert all(0 < n <= 120 for n in shared)


def test_overlap_starts_at_a_sentence_start_when_one_is_close_enough():
    text = " ".join(f"Sentence number {i} talks about the harbour." for i in range(40))
    spans = chunk_text(text, size=200, overlap=100)
    for before, after in pairwise(spans):
        assert after.text.startswith("Sentence number")
        assert after.start < before.end


def test_no_overlap_when_overlap_is_zero():
    spans = chunk_text(DOCUMENTS["atlas-launch"], size=300, overlap=0)
    assert all(b.start >= a.end for a, b in pairwise(spans))


def test_a_word_longer_than_the_size_is_hard_split():
    text = "x" * 2500
    spans = chunk_text(text, size=1000, overlap=100)
    assert [(s.start, s.end) for s in spans] == [(0, 1000), (1000, 2000), (2000, 2500)]


def test_a_long_word_among_short_ones_keeps_the_invariant():
    text = "short words first " + "y" * 300 + " then a tail of words."
    spans = chunk_text(text, size=100, overlap=20)
    assert spans[0].text == "short words first"
    assert all(text[s.start : s.end] == s.text and len(s.text) <= 100 for s in spans)
    covered = {i for s in spans for i in range(s.start, s.end)}
    assert all(i in covered for i, char in enumerate(text) if not char.isspace())
    assert any(s.text == "y" * 100 for s in spans)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_empty_or_blank_text_gives_no_chunks(text: str):
    assert chunk_text(text) == []


def test_a_short_text_is_one_trimmed_chunk():
    text = "\n\n  Mara Quist leads the Atlas Team.  \n"
    [span] = chunk_text(text)
    assert (span.index, span.text) == (0, "Mara Quist leads the Atlas Team.")
    assert text[span.start : span.end] == span.text


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (-5, 0), (100, -1), (100, 100), (100, 150)])
def test_invalid_sizes_are_rejected(size: int, overlap: int):
    with pytest.raises(ValueError):
        chunk_text("some text", size=size, overlap=overlap)


def test_chunking_is_deterministic():
    text = DOCUMENTS["project-lantern"]
    assert chunk_text(text, size=400, overlap=80) == chunk_text(text, size=400, overlap=80)


def test_sentence_spans_keep_abbreviations_and_split_lines():
    text = "Dr. Priya Nandan leads the Signal Team. It works!\n- a list item\n\nNext paragraph?"
    sentences = [text[a:b] for a, b in sentence_spans(text)]
    assert sentences == [
        "Dr. Priya Nandan leads the Signal Team.",
        "It works!",
        "- a list item",
        "Next paragraph?",
    ]

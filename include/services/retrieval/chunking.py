"""Split a document into chunks: by section (Markdown ``#`` headings), then by paragraph, packing paragraphs
up to ``MAX_WORDS`` words; a paragraph longer than that is split by sentence, a sentence longer than that by
words with ``OVERLAP_WORDS`` of overlap. Every chunk keeps its section heading and its character span in the
document, so a hit points back to the exact place (the source)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from include.services.retrieval.models import Chunk

MAX_WORDS = 120
OVERLAP_WORDS = 20
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?\u061f])\s+")
_WORD = re.compile(r"\S+")


def _spans(text: str, pattern: re.Pattern[str], start: int, end: int) -> Iterator[tuple[int, int]]:
    """Pieces of ``text[start:end]`` between matches of ``pattern`` (separators dropped, blanks skipped)."""
    position = start
    for match in pattern.finditer(text, start, end):
        if text[position : match.start()].strip():
            yield position, match.start()
        position = match.end()
    if text[position:end].strip():
        yield position, end


def _words(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]


def _pieces(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Spans of at most MAX_WORDS words: the paragraph, else its sentences, else windows of words."""
    words = _words(text, start, end)
    if len(words) <= MAX_WORDS:
        yield start, end
        return
    for s_start, s_end in _spans(text, _SENTENCE_END, start, end):
        sentence_words = _words(text, s_start, s_end)
        if len(sentence_words) <= MAX_WORDS:
            yield s_start, s_end
            continue
        step = MAX_WORDS - OVERLAP_WORDS
        for i in range(0, len(sentence_words), step):
            window = sentence_words[i : i + MAX_WORDS]
            yield window[0][0], window[-1][1]
            if i + MAX_WORDS >= len(sentence_words):
                break


def _sections(text: str) -> Iterator[tuple[str, int, int]]:
    """(heading, body start, body end) for each section; text before the first heading has heading ''."""
    heading, body_start = "", 0
    offset = 0
    for line in text.splitlines(keepends=True):
        match = _HEADING.match(line)
        if match:
            yield heading, body_start, offset
            heading, body_start = match.group(1).strip(), offset + len(line)
        offset += len(line)
    yield heading, body_start, len(text)


def chunk_document(text: str) -> list[Chunk]:
    chunks: list[Chunk] = []
    for heading, start, end in _sections(text):
        pending: list[tuple[int, int]] = []
        pending_words = 0

        def flush(section: str = heading) -> None:
            nonlocal pending, pending_words
            if pending:
                first, last = pending[0][0], pending[-1][1]
                chunks.append(
                    Chunk(
                        ordinal=len(chunks),
                        section=section,
                        text=text[first:last].strip(),
                        char_start=first,
                        char_end=last,
                    )
                )
            pending, pending_words = [], 0

        for p_start, p_end in _spans(text, re.compile(r"\n\s*\n"), start, end):
            for piece_start, piece_end in _pieces(text, p_start, p_end):
                count = len(_words(text, piece_start, piece_end))
                if pending and pending_words + count > MAX_WORDS:
                    flush()
                pending.append((piece_start, piece_end))
                pending_words += count
        flush()
    return chunks


def embedding_text(title: str, chunk: Chunk) -> str:
    """What is embedded for a chunk: its document title and section give a short chunk its context."""
    return " - ".join(part for part in (title, chunk.section, chunk.text) if part)

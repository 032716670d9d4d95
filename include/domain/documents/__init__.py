"""Deterministic PDF rendering (fpdf2).

API:
    Table(header: list[str] = [], rows: list[list[str]] = [], col_widths: list[float] | None = None)
    Section(heading: str, paragraphs: list[str] = [], tables: list[Table] = [])
    render_pdf(title: str, sections: list[Section], *, metadata: dict[str, str]) -> bytes
    sha256_hex(data: bytes) -> str
    METADATA_KEYS, PRODUCER, arabic_font_available() -> bool

Determinism: the same (title, sections, metadata) always gives byte-identical bytes, because the
creation date comes from ``metadata["created_at"]`` (required, ISO date or datetime; UTC is assumed
when no offset is given), the producer string is fixed and the PDF /ID is derived from the content.
That is what lets the ``documents`` table dedup by sha256 and a retried task store nothing new.

Arabic: text is shaped with HarfBuzz (``set_text_shaping``) using the bundled DejaVu Sans font
(fonts/LICENSE-DejaVu.txt: Bitstream Vera licence, DejaVu changes public domain). A paragraph or
cell whose first strong character is right-to-left is right-aligned. If the font files were removed,
rendering falls back to Helvetica and non-Latin-1 characters become "?".
"""

from __future__ import annotations

from include.domain.common import sha256_hex
from include.domain.documents.render import (
    METADATA_KEYS,
    PRODUCER,
    Section,
    Table,
    arabic_font_available,
    is_rtl,
    render_pdf,
)

__all__ = [
    "METADATA_KEYS",
    "PRODUCER",
    "Section",
    "Table",
    "arabic_font_available",
    "is_rtl",
    "render_pdf",
    "sha256_hex",
]

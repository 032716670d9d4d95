"""fpdf2 renderer: see the package docstring for the determinism and Arabic contract.

fpdf2 is imported when a PDF is rendered, not with this module: it is about half of a task process's
import time, and most tasks that import the domain packages never render a document.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from fpdf import FPDF

# Bumping this string changes every document hash; do it only with a renderer change worth re-issuing for.
PRODUCER = "Execution Plane documents/1 (fpdf2)"
METADATA_KEYS = frozenset({"created_at", "author", "subject", "keywords", "creator", "lang"})

FONT_DIR = Path(__file__).resolve().parent / "fonts"
_REGULAR = "DejaVuSans.ttf"
_BOLD = "DejaVuSans-Bold.ttf"
_FAMILY = "DejaVu"


class Table(BaseModel):
    """A simple grid: an optional header row and rows of text cells."""

    model_config = ConfigDict(frozen=True)

    header: list[str] = Field(default_factory=list)
    rows: list[list[str]] = Field(default_factory=list)
    # Relative widths (fpdf2 normalises them); None = equal columns.
    col_widths: list[float] | None = None


class Section(BaseModel):
    """A heading followed by its paragraphs, then its tables."""

    model_config = ConfigDict(frozen=True)

    heading: str
    paragraphs: list[str] = Field(default_factory=list)
    tables: list[Table] = Field(default_factory=list)


def arabic_font_available(font_dir: Path | None = None) -> bool:
    """True when the bundled Unicode fonts (with Arabic glyphs) are present."""
    d = font_dir or FONT_DIR
    return (d / _REGULAR).is_file() and (d / _BOLD).is_file()


def _shaping_available() -> bool:
    try:
        import uharfbuzz  # noqa: F401
    except ImportError:
        return False
    return True


def is_rtl(text: str) -> bool:
    """Whether the first strong-direction character is right-to-left (Arabic, Hebrew...)."""
    for ch in text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in ("R", "AL"):
            return True
        if bidi == "L":
            return False
    return False


def _parse_created_at(value: str | None) -> datetime:
    if not value:
        # Required: a silent default would be either now() (non-deterministic) or a wrong fixed date.
        raise ValueError("metadata['created_at'] is required (ISO date or datetime)")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            d = date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"metadata['created_at'] is not ISO 8601: {value!r}") from exc
        parsed = datetime(d.year, d.month, d.day)
    # fpdf2 would attach the *local* timezone to a naive datetime, which differs between machines.
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class _Renderer:
    def __init__(self, font_dir: Path) -> None:
        from fpdf import FPDF

        self.pdf: FPDF = FPDF(orientation="portrait", unit="mm", format="A4")
        self.unicode = arabic_font_available(font_dir)
        if self.unicode:
            self.pdf.add_font(_FAMILY, "", str(font_dir / _REGULAR))
            self.pdf.add_font(_FAMILY, "B", str(font_dir / _BOLD))
            self.family = _FAMILY
            if _shaping_available():
                # Direction is left to fpdf2's bidi algorithm so mixed Arabic/Latin lines come out right.
                self.pdf.set_text_shaping(True)
        else:
            self.family = "helvetica"

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        # Core fonts only cover Latin-1; replace the rest rather than crash a business flow on a name.
        return value.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def block(self, value: str, size: float = 10, bold: bool = False, height: float = 5.5) -> None:
        from fpdf.enums import XPos, YPos

        self.font(size, bold)
        self.pdf.multi_cell(
            0,
            height,
            self.text(value),
            align="R" if is_rtl(value) else "L",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def table(self, table: Table) -> None:
        self.font(9)
        kwargs: dict[str, Any] = {"line_height": 5.5, "padding": 1.2}
        if table.col_widths:
            kwargs["col_widths"] = tuple(table.col_widths)
        kwargs["first_row_as_headings"] = bool(table.header)
        width = max([len(table.header)] + [len(r) for r in table.rows])
        with self.pdf.table(**kwargs) as grid:
            for raw in ([table.header] if table.header else []) + table.rows:
                # Short rows are padded: fpdf2 requires a rectangular grid.
                cells = list(raw) + [""] * (width - len(raw))
                row = grid.row()
                for cell in cells:
                    row.cell(self.text(cell), align="R" if is_rtl(cell) else "L")
        self.pdf.ln(3)


def render_pdf(
    title: str,
    sections: list[Section],
    *,
    metadata: dict[str, str],
    font_dir: Path | None = None,
) -> bytes:
    """Render ``sections`` under ``title``; identical inputs give identical bytes."""
    unknown = set(metadata) - METADATA_KEYS
    if unknown:
        # Strict on purpose: a misspelt "created_at" must not silently change the document date.
        raise ValueError(f"unknown metadata keys: {sorted(unknown)}")
    created_at = _parse_created_at(metadata.get("created_at"))

    r = _Renderer(font_dir or FONT_DIR)
    pdf = r.pdf
    pdf.set_creation_date(created_at)
    pdf.set_producer(PRODUCER)
    pdf.set_creator(metadata.get("creator", "Execution Plane"))
    pdf.set_title(title)
    if metadata.get("author"):
        pdf.set_author(metadata["author"])
    if metadata.get("subject"):
        pdf.set_subject(metadata["subject"])
    if metadata.get("keywords"):
        pdf.set_keywords(metadata["keywords"])
    pdf.set_lang(metadata.get("lang", "en"))
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()

    r.block(title, size=16, bold=True, height=8)
    pdf.ln(2)
    for section in sections:
        r.block(section.heading, size=12, bold=True, height=7)
        for paragraph in section.paragraphs:
            r.block(paragraph)
            pdf.ln(1.5)
        for table in section.tables:
            if table.header or table.rows:
                r.table(table)
        pdf.ln(2)
    return bytes(pdf.output())

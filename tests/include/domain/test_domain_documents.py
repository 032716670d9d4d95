from __future__ import annotations

import re
import zlib
from pathlib import Path

import pytest

from include.domain.documents import (
    PRODUCER,
    Section,
    Table,
    arabic_font_available,
    is_rtl,
    render_pdf,
    sha256_hex,
)

META = {"created_at": "2025-03-01T10:00:00Z", "author": "tests", "subject": "s", "keywords": "k"}
ARABIC = "شركة الرياض للتقنية توقع اتفاقية شراكة"


def sections() -> list[Section]:
    return [
        Section(heading="Intro", paragraphs=["Hello world.", ARABIC]),
        Section(
            heading="Figures",
            tables=[
                Table(header=["Item", "Value"], rows=[["Revenue", "USD 1,000"], ["الشريك", "نعم"], ["short"]])
            ],
        ),
    ]


def test_same_input_same_bytes() -> None:
    a = render_pdf("Title", sections(), metadata=META)
    b = render_pdf("Title", sections(), metadata=dict(reversed(list(META.items()))))
    assert a.startswith(b"%PDF-")
    assert a == b
    assert sha256_hex(a) == sha256_hex(b)


def test_one_character_changes_the_hash() -> None:
    base = sha256_hex(render_pdf("Title", sections(), metadata=META))
    changed = sections()
    changed[0] = Section(heading="Intro", paragraphs=["Hello world!", ARABIC])
    assert sha256_hex(render_pdf("Title", changed, metadata=META)) != base
    assert sha256_hex(render_pdf("Titlf", sections(), metadata=META)) != base
    assert sha256_hex(render_pdf("Title", sections(), metadata={**META, "subject": "t"})) != base


def test_fixed_creation_date_and_producer() -> None:
    pdf = render_pdf("Title", sections(), metadata=META)
    assert b"/CreationDate (D:20250301100000Z)" in pdf
    assert b"(Execution Plane documents/1 \\(fpdf2\\))" in pdf
    assert "fpdf2" in PRODUCER


def test_date_only_and_offset_creation_dates_are_utc() -> None:
    pdf = render_pdf("T", [], metadata={"created_at": "2025-03-01"})
    assert b"/CreationDate (D:20250301000000Z)" in pdf
    pdf = render_pdf("T", [], metadata={"created_at": "2025-03-01T03:00:00+03:00"})
    assert b"/CreationDate (D:20250301000000Z)" in pdf


@pytest.mark.parametrize(
    "meta",
    [{}, {"created_at": ""}, {"created_at": "yesterday"}, {"created_at": "2025-01-01", "creatd": "x"}],
)
def test_bad_metadata_rejected(meta: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        render_pdf("T", [], metadata=meta)


def test_empty_sections_and_tables_render() -> None:
    pdf = render_pdf("Only a title", [Section(heading="Empty", tables=[Table()])], metadata=META)
    assert pdf.startswith(b"%PDF-")


def test_long_content_spans_pages_deterministically() -> None:
    rows = [[f"row {i}", "x" * 40] for i in range(200)]
    secs = [
        Section(
            heading="Big", paragraphs=["lorem ipsum " * 200], tables=[Table(header=["a", "b"], rows=rows)]
        )
    ]
    a = render_pdf("Big", secs, metadata=META)
    assert a == render_pdf("Big", secs, metadata=META)
    assert len(re.findall(rb"/Type /Page\b", a)) > 1


def test_rtl_detection() -> None:
    assert is_rtl(ARABIC)
    assert is_rtl("  2025 " + ARABIC)
    assert not is_rtl("Hello " + ARABIC)
    assert not is_rtl("123 ...")


def _embedded_glyph_names(pdf: bytes) -> set[str]:
    from io import BytesIO

    from fontTools.ttLib import TTFont

    names: set[str] = set()
    for m in re.finditer(rb"/Length1 \d+[^>]*>>\s*stream\r?\n", pdf):
        end = pdf.index(b"endstream", m.end())
        font = TTFont(BytesIO(zlib.decompress(pdf[m.end() : end])))
        names |= set(font.getGlyphOrder())
    return names


@pytest.mark.skipif(not arabic_font_available(), reason="bundled font missing")
def test_arabic_is_shaped_with_contextual_forms() -> None:
    pdf = render_pdf("عقد", [Section(heading="نص", paragraphs=[ARABIC])], metadata=META)
    glyphs = _embedded_glyph_names(pdf)
    # Arabic Presentation Forms-B (U+FE70-FEFF) only appear when HarfBuzz shaped the text.
    assert any(g.startswith("uniFE") for g in glyphs), sorted(glyphs)


def test_latin_fallback_without_fonts(tmp_path: Path) -> None:
    pdf = render_pdf("Fallback", sections(), metadata=META, font_dir=tmp_path)
    assert pdf.startswith(b"%PDF-")
    assert b"Helvetica" in pdf
    assert pdf == render_pdf("Fallback", sections(), metadata=META, font_dir=tmp_path)


def test_font_licence_is_shipped() -> None:
    from include.domain.documents.render import FONT_DIR

    assert (FONT_DIR / "LICENSE-DejaVu.txt").read_text().count("Bitstream") > 0


def test_fpdf_loads_only_when_a_pdf_is_rendered() -> None:
    """Task processes import the domain packages for their rules; fpdf2 (about half of a task process's
    import time) must load only for a render. The constants of the public API need no fpdf."""
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import workflows.partner_approval.domain, workflows.dd_room.domain\n"
        "import workflows.signature_commitment.domain\n"
        "from include.domain.documents import METADATA_KEYS, PRODUCER, Section, Table, render_pdf\n"
        "assert 'created_at' in METADATA_KEYS and PRODUCER\n"
        "assert 'fpdf' not in sys.modules, 'fpdf imported without a render'\n"
        "pdf = render_pdf('T', [Section(heading='H', tables=[Table(rows=[['a']])])],"
        " metadata={'created_at': '2025-01-01'})\n"
        "assert pdf.startswith(b'%PDF-') and 'fpdf' in sys.modules\n"
    )
    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo), str(repo / "dags")])}
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

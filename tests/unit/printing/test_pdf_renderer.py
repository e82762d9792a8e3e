"""The one PDF renderer (fpdf2): what a ``Printable`` says can be read back from the file, on every page."""

from __future__ import annotations

import io

import pypdf
import pytest
from cryptopay.adapters.pdf import FpdfRenderer
from cryptopay.core.printing import Facts, Heading, Layout, Paragraph, Printable, QrCode, Table


def _read(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_every_text_of_the_document_is_in_the_pdf_and_a_long_table_spans_pages():
    """Title, facts, headings and each of 150 rows are extractable; the table goes on over more pages."""
    rows = tuple((f"2026-03-{n % 28 + 1:02d}", "USDT", f"{n}.25") for n in range(150))
    document = Printable(
        "Taarifa ya mwezi",
        "2026-03",
        (Facts((("Mfanyabiashara", "Duka Ltd"),)), Heading("Mauzo"), Table(("Tarehe", "Sarafu", "Kiasi"), rows)),
        footer="cryptopay",
    )
    reader, text = _read(FpdfRenderer().render(document))
    assert len(reader.pages) >= 3 and reader.metadata.title == "Taarifa ya mwezi"
    for expected in ("Taarifa ya mwezi", "Mfanyabiashara Duka Ltd", "Mauzo", "Tarehe", "0.25", "149.25", "cryptopay"):
        assert expected in text, expected
    assert text.count("Tarehe") >= 3  # the header row is repeated on every page


def test_names_in_other_scripts_print_as_written_and_only_what_the_font_lacks_is_a_question_mark():
    """Latin, Greek, Cyrillic and Arabic letters, dashes and curly quotes print as written (review 3, I11: they were
    ``????``); a character the shipped font lacks (Chinese, the bitcoin sign) is a ``?``, never dropped."""
    names = "Duka la Ahmed — متجر · Ολγα · Сергей · Zoë Ñandú"
    document = Printable(
        names, "Taarifa ya mwezi", (Facts((("Mteja", "“Wanjiku” Njoroge"),)), Paragraph("Bei: ₿ 0.1 … 张记小吃"))
    )
    reader, text = _read(FpdfRenderer().render(document))
    assert reader.metadata.title == names
    for written in ("Ολγα", "Сергей", "Zoë", "Ñandú", "Duka la Ahmed —", "“Wanjiku” Njoroge", "Bei: ? 0.1 … ????"):
        assert written in text, written
    assert all(letter in text for letter in "متجر")  # drawn unshaped, letter by letter


def test_a_poster_draws_its_qr_code_as_squares_with_the_link_under_it():
    """The poster's QR code is vector squares (``re`` operators) in the page, its caption the link."""
    url = "https://pay.example.com/link/AbC123"
    document = Printable("Scan to pay", "Duka Ltd", (QrCode(url, url),), layout=Layout.POSTER)
    reader, text = _read(FpdfRenderer().render(document))
    content = reader.pages[0].get_contents().get_data().decode("latin-1")
    assert url in text and "Scan to pay" in text and content.count(" re") > 200


def test_a_table_row_with_a_missing_cell_is_refused():
    """A malformed table is a programming error caught when it is built, not a half-drawn PDF."""
    with pytest.raises(ValueError):
        Table(("a", "b"), (("1",),))

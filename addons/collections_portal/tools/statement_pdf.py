"""A customer's statement of account as a PDF, with reportlab.

Plain Python on plain data (no Odoo import): every text arrives already
formatted in the reader's language.
"""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

INK = colors.HexColor("#1F2933")
MUTED = colors.HexColor("#5B7083")
RULE = colors.HexColor("#C9D3DD")
SHADE = colors.HexColor("#F2F5F8")
# The frame's width: the A4 page less 20 mm margins and the frame's own 6 pt padding on each side.
WIDTH = 170 * mm - 12


def _lines(text):
    return "<br/>".join(escape(line) for line in (text or "").splitlines() if line.strip())


def _logo(data, max_width=45 * mm, max_height=20 * mm):
    """The company's logo scaled into its box, or None if it cannot be read."""
    try:
        reader = ImageReader(io.BytesIO(data))
        width, height = reader.getSize()
    except Exception:  # noqa: BLE001 (a broken logo must not stop the statement)
        return None
    scale = min(max_width / width, max_height / height)
    return Image(io.BytesIO(data), width=width * scale, height=height * scale)


def _table(header, rows, widths, numeric_from, footer=None):
    """A table with a shaded header, right-aligned amounts and an optional bold footer row."""
    data = [header, *rows] + ([footer] if footer else [])
    scale = WIDTH / sum(widths)
    table = Table(data, colWidths=[width * scale for width in widths], repeatRows=1)
    style = [
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ("FONT", (0, 1), (-1, -1), "Helvetica", 8.5),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, MUTED),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if footer:
        style += [("FONT", (0, -1), (-1, -1), "Helvetica-Bold", 8.5), ("LINEABOVE", (0, -1), (-1, -1), 0.8, INK)]
    table.setStyle(TableStyle(style))
    return table


def render(statement):
    """The statement's PDF bytes.

    :param dict statement: title, company (name, address, contact, logo bytes
        or None), customer (name, address, reference), date_line, period_line,
        labels {aging, open_items, payments, number, date, due, days_late,
        amount_due, amount, reference, total, nothing_open, no_payments,
        page}, sections [{currency, aging [(label, amount)], items [(number,
        date, due, days late, amount due)], total, payments [(date,
        reference, amount)], payments_total}], closing (a line of text); all
        text already formatted in the reader's language
    """
    styles = getSampleStyleSheet()
    normal = ParagraphStyle("statement", parent=styles["Normal"], fontSize=9, leading=12, textColor=INK)
    small = ParagraphStyle("statement_small", parent=normal, fontSize=8, leading=10, textColor=MUTED)
    heading = ParagraphStyle("statement_heading", parent=normal, fontName="Helvetica-Bold", fontSize=11, leading=14)
    title = ParagraphStyle("statement_title", parent=heading, fontSize=16, leading=20, alignment=2)
    small_right = ParagraphStyle("statement_small_right", parent=small, alignment=2)
    labels = statement["labels"]
    company = statement["company"]

    buffer = io.BytesIO()

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(20 * mm, 10 * mm, f"{company['name']} · {statement['customer']['name']}")
        canvas.drawRightString(190 * mm, 10 * mm, labels["page"] % {"page": doc.page})
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=18 * mm,
        title=statement["title"],
        author=company["name"],
    )
    letterhead = Paragraph(
        f"<b>{escape(company['name'])}</b><br/>{_lines(company['address'])}"
        + (f"<br/>{_lines(company['contact'])}" if company.get("contact") else ""),
        normal,
    )
    logo = _logo(company["logo"]) if company.get("logo") else None
    # The logo heads the page when there is one, with the company's details under it.
    # Text in the first column of layout tables lines up with the paragraphs under them.
    layout = TableStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (0, -1), 0),
            ("RIGHTPADDING", (-1, 0), (-1, -1), 0),
        ]
    )
    head = Table(
        [[logo or letterhead, Paragraph(escape(statement["title"]), title)]], colWidths=[WIDTH - 80 * mm, 80 * mm]
    )
    head.setStyle(layout)
    story = [head]
    if logo:
        story += [Spacer(1, 3 * mm), letterhead]
    customer = statement["customer"]
    story += [
        Spacer(1, 8 * mm),
        Table(
            [
                [
                    Paragraph(f"<b>{escape(customer['name'])}</b><br/>{_lines(customer['address'])}", normal),
                    Paragraph(
                        f"{escape(statement['date_line'])}<br/>{escape(statement['period_line'])}"
                        + (f"<br/>{escape(customer['reference'])}" if customer.get("reference") else ""),
                        normal,
                    ),
                ]
            ],
            colWidths=[WIDTH - 70 * mm, 70 * mm],
            style=layout,
        ),
        Spacer(1, 6 * mm),
    ]
    for section in statement["sections"]:
        currency = f" ({section['currency']})" if len(statement["sections"]) > 1 else ""
        story += [Paragraph(escape(labels["aging"] + currency), heading), Spacer(1, 2 * mm)]
        aging_header = [label for label, _amount in section["aging"]] + [labels["total"]]
        aging_row = [amount for _label, amount in section["aging"]] + [section["total"]]
        aging = _table(
            [Paragraph(f"<b>{escape(text)}</b>", small_right) for text in aging_header], [aging_row], [1] * 6, 0
        )
        story += [aging, Spacer(1, 6 * mm), Paragraph(escape(labels["open_items"] + currency), heading)]
        story.append(Spacer(1, 2 * mm))
        if section["items"]:
            story.append(
                _table(
                    [labels["number"], labels["date"], labels["due"], labels["days_late"], labels["amount_due"]],
                    section["items"],
                    [50 * mm, 30 * mm, 30 * mm, 25 * mm, 35 * mm],
                    3,
                    footer=[labels["total"], "", "", "", section["total"]],
                )
            )
        else:
            story.append(Paragraph(escape(labels["nothing_open"]), normal))
        story += [Spacer(1, 6 * mm), Paragraph(escape(labels["payments"] + currency), heading), Spacer(1, 2 * mm)]
        if section["payments"]:
            story.append(
                _table(
                    [labels["date"], labels["reference"], labels["amount"]],
                    section["payments"],
                    [30 * mm, 105 * mm, 35 * mm],
                    2,
                    footer=[labels["total"], "", section["payments_total"]],
                )
            )
        else:
            story.append(Paragraph(escape(labels["no_payments"]), normal))
        story.append(Spacer(1, 8 * mm))
    if statement.get("closing"):
        story.append(Paragraph(escape(statement["closing"]), small))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()

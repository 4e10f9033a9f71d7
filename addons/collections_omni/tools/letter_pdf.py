"""Printed collections letters with reportlab.

Plain Python on plain data (no Odoo import), so a worker process can render
letters too. One call renders many letters into one PDF, ready to print in a
batch: each letter starts on a new page.
"""

import io
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


def _lines(text):
    return "<br/>".join(escape(line) for line in (text or "").splitlines() if line.strip())


def _qr(url, size=32 * mm):
    """The link as a QR code a phone camera opens."""
    widget = QrCodeWidget(url, barLevel="M")
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


def _call_to_action(letter, styles):
    """The QR code beside what it does and the link spelled out, with the other ways to pay."""
    text = f"<b>{escape(letter['qr_caption'])}</b><br/>{escape(letter['url'])}"
    if letter.get("options"):
        text += f"<br/><br/>{escape(letter['options'])}"
    if letter.get("payment"):
        text += f"<br/><br/>{escape(letter['payment'])}"
    box = Table([[_qr(letter["url"]), Paragraph(text, styles["Normal"])]], colWidths=[38 * mm, 132 * mm])
    box.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BOX", (0, 0), (-1, -1), 0.6, colors.HexColor("#5B7083")),
                ("BACKGROUND", (1, 0), (1, 0), colors.HexColor("#F7F9FB")),
            ]
        )
    )
    return box


def _logo(data, max_width=50 * mm, max_height=18 * mm):
    """The company's logo, scaled to fit the letterhead, aligned left."""
    width, height = ImageReader(io.BytesIO(data)).getSize()
    scale = min(max_width / width, max_height / height)
    image = Image(io.BytesIO(data), width=width * scale, height=height * scale)
    image.hAlign = "LEFT"
    return image


def render(letters):
    """Render letters into one PDF and return its bytes.

    :param list letters: dicts with company, company_address, recipient,
        address, date, subject, body, currency, labels (number, date, due,
        open, total), rows [(number, date, due, open amount)] and total, all
        as text already formatted in the recipient's language; optionally
        company_contact, logo (image bytes, printed above the sender), url
        (printed as a QR code with qr_caption), options, payment (bank account
        and reference), regards and signature (lines)
    """
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm)
    story = []
    for index, letter in enumerate(letters):
        if index:
            story.append(PageBreak())
        labels = letter["labels"]
        if letter.get("logo"):
            story += [_logo(letter["logo"]), Spacer(1, 4 * mm)]
        story += [
            Paragraph(
                f"<b>{escape(letter['company'])}</b><br/>{_lines(letter['company_address'])}"
                + (f"<br/>{escape(letter['company_contact'])}" if letter.get("company_contact") else ""),
                styles["Normal"],
            ),
            Spacer(1, 14 * mm),
            Paragraph(f"<b>{escape(letter['recipient'])}</b><br/>{_lines(letter['address'])}", styles["Normal"]),
            Spacer(1, 10 * mm),
            Paragraph(escape(letter["date"]), styles["Normal"]),
            Spacer(1, 6 * mm),
            Paragraph(f"<b>{escape(letter['subject'])}</b>", styles["Heading3"]),
            Paragraph(escape(letter["body"]), styles["Normal"]),
            Spacer(1, 6 * mm),
        ]
        data = [[labels["number"], labels["date"], labels["due"], f"{labels['open']} ({letter['currency']})"]]
        data += [list(row) for row in letter["rows"]]
        data.append(["", "", labels["total"], letter["total"]])
        table = Table(data, colWidths=[50 * mm, 30 * mm, 40 * mm, 50 * mm], repeatRows=1)
        table.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
                    ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                    ("FONTNAME", (0, -1), (-1, -1), "Helvetica-Bold"),
                    ("ALIGN", (3, 0), (3, -1), "RIGHT"),
                    ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5B7083")),
                    ("LINEABOVE", (0, -1), (-1, -1), 0.6, colors.HexColor("#5B7083")),
                    ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, colors.HexColor("#F7F9FB")]),
                ]
            )
        )
        story.append(table)
        if letter.get("url"):
            story += [Spacer(1, 8 * mm), _call_to_action(letter, styles)]
        if letter.get("signature"):
            closing = escape(letter.get("regards", "")) + "<br/><br/>" + "<br/>".join(map(escape, letter["signature"]))
            story += [Spacer(1, 8 * mm), Paragraph(closing, styles["Normal"])]
    doc.build(story)
    return buffer.getvalue()

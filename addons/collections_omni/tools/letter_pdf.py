"""Printed collections letters with reportlab.

Plain Python on plain data (no Odoo import), so a worker process can render
letters too. One call renders many letters into one PDF, ready to print in a
batch: each letter starts on a new page.
"""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle


def _lines(text):
    return "<br/>".join(escape(line) for line in (text or "").splitlines() if line.strip())


def render(letters):
    """Render letters into one PDF and return its bytes.

    :param list letters: dicts with company, company_address, recipient,
        address, date, subject, body, currency, labels (number, date, due,
        open, total), rows [(number, date, due, open amount)] and total, all
        as text already formatted in the recipient's language
    """
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm)
    story = []
    for index, letter in enumerate(letters):
        if index:
            story.append(PageBreak())
        labels = letter["labels"]
        story += [
            Paragraph(f"<b>{escape(letter['company'])}</b><br/>{_lines(letter['company_address'])}", styles["Normal"]),
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
    doc.build(story)
    return buffer.getvalue()

"""The compliance report as a PDF, with reportlab, from plain data."""

import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

TABLE_STYLE = TableStyle(
    [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5B7083")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F7F9FB")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)


def render(title, subtitle, sections):
    """:param list sections: (heading, header row, rows, empty text) with text cells"""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm)
    story = [Paragraph(escape(title), styles["Title"]), Paragraph(escape(subtitle), styles["Normal"])]
    for heading, header, rows, empty in sections:
        story += [Spacer(1, 6 * mm), Paragraph(escape(heading), styles["Heading3"])]
        if rows:
            table = Table([header, *rows], repeatRows=1, hAlign="LEFT")
            table.setStyle(TABLE_STYLE)
            story.append(table)
        else:
            story.append(Paragraph(escape(empty), styles["Italic"]))
    doc.build(story)
    return buffer.getvalue()

"""The monthly management report as a PDF, with reportlab, from plain data.

Nothing here knows Odoo: the caller passes the figures (numbers), the labels
already in the reader's language and a number formatter, so the same data
gives the CSV and the PDF (models/collections_management_report.py).
"""

import io
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

# One colour per series, from "current" (green) to "over 120 days" (dark red), then neutral ones.
PALETTE = [
    colors.HexColor(code)
    for code in ("#4E9A6B", "#B8C95A", "#F2C14E", "#F08A4B", "#D9534F", "#8E2C3A", "#5B7083", "#9DB4C8")
]
TABLE_STYLE = TableStyle(
    [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#E8EEF4")),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#5B7083")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#F7F9FB")]),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)
# Series that are not aging buckets (DSO and best DSO, 7 and 30 days, variants).
LINE_COLOURS = [colors.HexColor(code) for code in ("#2F5D8A", "#7FB3D5", "#4E9A6B", "#F2C14E", "#8E2C3A")]
WIDTH = 180 * mm


def _axis_font(axis, size=7):
    axis.labels.fontName = "Helvetica"
    axis.labels.fontSize = size


def _legend(drawing, names, x, y, columns=1, palette=None):
    legend = Legend()
    legend.x, legend.y = x, y
    legend.fontName, legend.fontSize = "Helvetica", 7
    legend.boxAnchor = "nw"
    legend.columnMaximum = max(1, -(-len(names) // columns))
    legend.dx = legend.dy = 7
    legend.deltay = 9
    legend.colorNamePairs = list(zip(palette or PALETTE, names, strict=False))
    drawing.add(legend)


def _title(drawing, text):
    drawing.add(String(0, drawing.height - 10, text, fontName="Helvetica-Bold", fontSize=9))


def _value_axis(axis, values, fmt):
    """A value axis from 0 (or the lowest negative value) with a little headroom."""
    low, high = min([0, *values]), max([0, *values])
    axis.valueMin = low * 1.1 if low < 0 else 0
    axis.valueMax = high * 1.1 if high > 0 else 1
    axis.labelTextFormat = fmt
    _axis_font(axis)


def stacked_bars(title, categories, series, names, fmt):
    """Vertical stacked bars: one bar per category, one segment per series (aging by month)."""
    drawing = Drawing(WIDTH, 72 * mm)
    _title(drawing, title)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 45, 22, WIDTH - 150, drawing.height - 45
    chart.data = [tuple(values) for values in series] or [(0,) * len(categories)]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.style = "stacked"
    _axis_font(chart.categoryAxis, 6.5)
    totals = [sum(values) for values in zip(*series, strict=True)] if series else [0]
    _value_axis(chart.valueAxis, totals, fmt)
    chart.barWidth = 8
    for index in range(len(chart.data)):
        chart.bars[index].fillColor = PALETTE[index % len(PALETTE)]
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    _legend(drawing, names, WIDTH - 95, drawing.height - 22)
    return drawing


def lines(title, categories, series, names, fmt):
    """A line chart over the months (DSO and best possible DSO; CEI)."""
    drawing = Drawing(WIDTH / 2 - 3 * mm, 60 * mm)
    _title(drawing, title)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 35, 45, drawing.width - 45, drawing.height - 65
    # A month without a figure (an empty CEI) is drawn at 0 (a line needs two points
    # on each side of a gap); the table beside it leaves that month empty.
    chart.data = [tuple(0 if value is None else value for value in values) for values in series] or [
        (0,) * len(categories)
    ]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    _axis_font(chart.categoryAxis, 6)
    _value_axis(chart.valueAxis, [value for values in series for value in values if value is not None], fmt)
    palette = [LINE_COLOURS[index % len(LINE_COLOURS)] for index in range(len(chart.data))]
    for index, colour in enumerate(palette):
        chart.lines[index].strokeColor = colour
        chart.lines[index].strokeWidth = 1.5
    chart.joinedLines = 1
    drawing.add(chart)
    _legend(drawing, names, 35, 9, columns=len(names), palette=palette)
    return drawing


def horizontal_bars(title, categories, series, names, fmt):
    """Horizontal grouped bars: one group per category (a channel, a stage, a variant)."""
    height = max(40 * mm, (18 + 11 * len(categories) * max(1, len(series))) * 1.0 + 30)
    drawing = Drawing(WIDTH, height)
    _title(drawing, title)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 110, 12, WIDTH - 230, height - 35
    chart.data = [tuple(values) for values in series] or [(0,) * len(categories)]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.reverseDirection = 1
    _axis_font(chart.categoryAxis)
    _value_axis(chart.valueAxis, [value for values in series for value in values], fmt)
    chart.barWidth = 6
    chart.groupSpacing = 6
    palette = [LINE_COLOURS[index % len(LINE_COLOURS)] for index in range(len(chart.data))]
    for index, colour in enumerate(palette):
        chart.bars[index].fillColor = colour
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    _legend(drawing, names, WIDTH - 110, height - 22, palette=palette)
    return drawing


def render(title, subtitle, blocks, footer=""):
    """:param list blocks: ("heading", text) | ("text", text) | ("chart", Drawing) |
    ("charts", [Drawing, Drawing]) side by side | ("table", header, rows, empty text) with text cells"""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=14 * mm,
        bottomMargin=14 * mm,
        title=title,
    )
    header_style = styles["BodyText"].clone("header", fontName="Helvetica-Bold", fontSize=7, leading=8.5)
    story = [Paragraph(escape(title), styles["Title"]), Paragraph(escape(subtitle), styles["Normal"])]
    for block in blocks:
        kind = block[0]
        if kind == "heading":
            # A heading never ends a page: it starts the next one with its chart.
            story += [CondPageBreak(85 * mm), Spacer(1, 5 * mm), Paragraph(escape(block[1]), styles["Heading3"])]
        elif kind == "text":
            story.append(Paragraph(escape(block[1]), styles["BodyText"]))
        elif kind == "chart":
            story += [block[1], Spacer(1, 2 * mm)]
        elif kind == "charts":
            row = Table([block[1]], colWidths=[WIDTH / len(block[1])] * len(block[1]))
            row.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0)]))
            story += [row, Spacer(1, 2 * mm)]
        elif kind == "table":
            _kind, header, rows, empty = block
            if rows:
                header = [Paragraph(escape(text), header_style) for text in header]
                # The first column for names, the others share the rest (at most 28 mm each).
                other = min(28 * mm, (WIDTH - 34 * mm) / max(1, len(header) - 1))
                widths = [34 * mm] + [other] * (len(header) - 1)
                table = Table([header, *rows], repeatRows=1, hAlign="LEFT", colWidths=widths)
                table.setStyle(TABLE_STYLE)
                story.append(KeepTogether(table) if len(rows) < 25 else table)
            else:
                story.append(Paragraph(escape(empty), styles["Italic"]))

    def _footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#5B7083"))
        canvas.drawString(15 * mm, 8 * mm, footer)
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, str(document.page))
        canvas.restoreState()

    doc.build(story, onFirstPage=_footer, onLaterPages=_footer)
    return buffer.getvalue()

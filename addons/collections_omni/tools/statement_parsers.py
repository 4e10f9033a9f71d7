"""Bank statement files read into plain dictionaries: CSV and ISO 20022 CAMT.053.

Both parsers check the whole file before anything is imported and raise
:class:`StatementFileError` naming the line (CSV) or the entry (CAMT) and what
is wrong. They return a list of statements::

    {"name", "currency", "account_number", "balance_start", "balance_end",
     "lines": [{"date", "amount", "payment_ref", "partner_name",
                "account_number", "ref"}]}
"""

import csv
import datetime
import io
import re
from decimal import Decimal, InvalidOperation

from lxml import etree

from odoo.tools.translate import LazyTranslate

_lt = LazyTranslate(__name__)

CAMT053_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.0[2-8]$")


class StatementFileError(ValueError):
    """A statement file that cannot be imported, with the reason (translated
    into the user's language when turned into a string)."""

    def __str__(self):
        return str(self.args[0])


# ----------------------------------------------------------------------
# CSV
# ----------------------------------------------------------------------

DEFAULT_CSV_COLUMNS = {
    "date": "date",
    "amount": "amount",
    "label": "label",
    "partner_name": "partner",
    "account_number": "account",
}


def _csv_amount(text, decimal_separator):
    text = (text or "").strip().replace(" ", "").replace("\u00a0", "")
    if decimal_separator == ",":
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    return Decimal(text)


def parse_csv(data, columns=None, delimiter=",", decimal_separator=".", date_format="%Y-%m-%d", encoding="utf-8"):
    """One statement from a CSV file with a header row.

    ``columns`` maps ``date``, ``amount``, ``label``, ``partner_name`` and
    ``account_number`` to the file's header names; date, amount and label are
    required, the others optional.
    """
    columns = {**DEFAULT_CSV_COLUMNS, **(columns or {})}
    try:
        text = data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise StatementFileError(
            _lt(
                "The file is not %(encoding)s text (byte %(byte)s); choose its encoding or save it as UTF-8.",
                encoding=encoding,
                byte=error.start,
            )
        ) from error
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration as error:
        raise StatementFileError(_lt("The file is empty.")) from error
    positions = {}
    for key, name in columns.items():
        if name and name in header:
            positions[key] = header.index(name)
        elif key in ("date", "amount", "label"):
            raise StatementFileError(
                _lt(
                    "Line 1: no column '%(name)s' for the %(field)s (the columns are: %(columns)s).",
                    name=name,
                    field=key.replace("_", " "),
                    columns=", ".join(header),
                )
            )
    lines = []
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header):
            raise StatementFileError(
                _lt(
                    "Line %(line)s: %(count)s columns where the header has %(expected)s.",
                    line=number,
                    count=len(row),
                    expected=len(header),
                )
            )

        def cell(key, row=row):
            return row[positions[key]].strip() if key in positions else ""

        try:
            date = datetime.datetime.strptime(cell("date"), date_format).date()
        except ValueError as error:
            raise StatementFileError(
                _lt(
                    "Line %(line)s: date '%(date)s' does not follow the format %(format)s.",
                    line=number,
                    date=cell("date"),
                    format=date_format,
                )
            ) from error
        try:
            amount = _csv_amount(cell("amount"), decimal_separator)
        except InvalidOperation as error:
            raise StatementFileError(
                _lt("Line %(line)s: amount '%(amount)s' is not a number.", line=number, amount=cell("amount"))
            ) from error
        if not amount:
            raise StatementFileError(_lt("Line %(line)s: the amount is zero.", line=number))
        lines.append(
            {
                "date": date,
                "amount": float(amount),
                "payment_ref": cell("label") or "/",
                "partner_name": cell("partner_name"),
                "account_number": cell("account_number"),
                "ref": "",
            }
        )
    if not lines:
        raise StatementFileError(_lt("The file has a header but no transaction."))
    return [
        {
            "name": "",
            "currency": "",
            "account_number": "",
            "balance_start": None,
            "balance_end": None,
            "lines": lines,
        }
    ]


# ----------------------------------------------------------------------
# CAMT.053
# ----------------------------------------------------------------------


def _camt_root(data):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
    try:
        root = etree.fromstring(data, parser=parser)
    except etree.XMLSyntaxError as error:
        raise StatementFileError(_lt("The file is not valid XML: %(error)s.", error=str(error))) from error
    namespace = etree.QName(root).namespace or ""
    if not CAMT053_NAMESPACE.match(namespace):
        raise StatementFileError(
            _lt(
                "Not a CAMT.053 bank statement (versions 001.02 to 001.08): the document's namespace is "
                "'%(namespace)s'.",
                namespace=namespace or "-",
            )
        )
    return root, namespace


def parse_camt053(data):
    """The statements (``Stmt``) of a CAMT.053 file, one line per transaction
    (an entry batching several transactions gives one line each)."""
    root, namespace = _camt_root(data)
    ns = {"c": namespace}

    def text(node, path):
        found = node.xpath(path, namespaces=ns)
        return found[0].text.strip() if found and found[0].text else ""

    statements = []
    stmt_nodes = root.xpath("/c:Document/c:BkToCstmrStmt/c:Stmt", namespaces=ns)
    if not stmt_nodes:
        raise StatementFileError(_lt("The CAMT.053 file holds no statement (Stmt)."))
    for stmt_number, stmt in enumerate(stmt_nodes, start=1):
        name = text(stmt, "c:Id") or text(stmt, "c:ElctrncSeqNb")
        where = _lt("Statement %(name)s", name=name or stmt_number)
        balances = {}
        for balance in stmt.xpath("c:Bal", namespaces=ns):
            code = text(balance, "c:Tp/c:CdOrPrtry/c:Cd")
            amount = _camt_amount(balance, ns, _lt("%(where)s, balance %(code)s", where=where, code=code))
            balances.setdefault(code, -amount if text(balance, "c:CdtDbtInd") == "DBIT" else amount)
        lines = []
        currency = text(stmt, "c:Acct/c:Ccy")
        for entry_number, entry in enumerate(stmt.xpath("c:Ntry", namespaces=ns), start=1):
            entry_where = _lt("%(where)s, entry %(entry)s", where=where, entry=entry_number)
            entry_amount = _camt_amount(entry, ns, entry_where)
            currency = currency or entry.xpath("c:Amt", namespaces=ns)[0].get("Ccy", "")
            date_text = text(entry, "c:BookgDt/c:Dt") or text(entry, "c:BookgDt/c:DtTm")[:10]
            date_text = date_text or text(entry, "c:ValDt/c:Dt") or text(entry, "c:ValDt/c:DtTm")[:10]
            try:
                date = datetime.date.fromisoformat(date_text)
            except ValueError as error:
                raise StatementFileError(
                    _lt("%(where)s: booking date '%(date)s' is not a date.", where=entry_where, date=date_text)
                ) from error
            details = entry.xpath("c:NtryDtls/c:TxDtls", namespaces=ns)
            entry_indicator = text(entry, "c:CdtDbtInd")
            for detail in details or [entry]:
                amount = entry_amount
                if detail is not entry and detail.xpath("c:Amt|c:AmtDtls/c:TxAmt/c:Amt", namespaces=ns):
                    amount = _camt_amount(detail, ns, entry_where, path="c:Amt|c:AmtDtls/c:TxAmt/c:Amt")
                credit = (text(detail, "c:CdtDbtInd") or entry_indicator) == "CRDT"
                party = "Dbtr" if credit else "Cdtr"
                labels = [node.text.strip() for node in detail.xpath("c:RmtInf/c:Ustrd", namespaces=ns) if node.text]
                labels += [
                    node.text.strip()
                    for node in detail.xpath("c:RmtInf/c:Strd/c:CdtrRefInf/c:Ref", namespaces=ns)
                    if node.text
                ]
                label = " ".join(labels) or text(entry, "c:AddtlNtryInf") or "/"
                lines.append(
                    {
                        "date": date,
                        "amount": float(amount) * (1 if credit else -1),
                        "payment_ref": label,
                        # camt.053.001.02-.07: RltdPties/Dbtr/Nm; .08: RltdPties/Dbtr/Pty/Nm
                        "partner_name": text(detail, f"c:RltdPties/c:{party}/c:Nm")
                        or text(detail, f"c:RltdPties/c:{party}/c:Pty/c:Nm"),
                        "account_number": text(detail, f"c:RltdPties/c:{party}Acct/c:Id/c:IBAN")
                        or text(detail, f"c:RltdPties/c:{party}Acct/c:Id/c:Othr/c:Id"),
                        "ref": text(detail, "c:Refs/c:EndToEndId") if detail is not entry else "",
                    }
                )
        if not lines:
            raise StatementFileError(_lt("%(where)s: no entry (Ntry).", where=where))
        statements.append(
            {
                "name": name,
                "currency": currency,
                "account_number": text(stmt, "c:Acct/c:Id/c:IBAN") or text(stmt, "c:Acct/c:Id/c:Othr/c:Id"),
                "balance_start": balances.get("OPBD", balances.get("PRCD")),
                "balance_end": balances.get("CLBD"),
                "lines": lines,
            }
        )
    return statements


def _camt_amount(node, ns, where, path="c:Amt"):
    found = node.xpath(path, namespaces=ns)
    if not found or not (found[0].text or "").strip():
        raise StatementFileError(_lt("%(where)s: no amount (Amt).", where=where))
    try:
        amount = Decimal(found[0].text.strip())
    except InvalidOperation as error:
        raise StatementFileError(
            _lt("%(where)s: amount '%(amount)s' is not a number.", where=where, amount=found[0].text.strip())
        ) from error
    return amount

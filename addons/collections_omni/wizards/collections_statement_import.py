import base64

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError

from odoo.addons.base.models.res_bank import sanitize_account_number

from ..tools import statement_parsers


class CollectionsStatementImport(models.TransientModel):
    """Import a bank statement file (CSV or CAMT.053) into a bank journal and
    run the matcher on its lines. The whole file is checked first: a bad file
    imports nothing and says which line is wrong."""

    _name = "collections.statement.import"
    _description = "Import a Bank Statement"

    journal_id = fields.Many2one(
        "account.journal",
        required=True,
        domain="[('type', '=', 'bank'), ('company_id', '=', company_id)]",
        default=lambda self: self.env["account.journal"].search(
            [("type", "=", "bank"), ("company_id", "=", self.env.company.id)], limit=1
        ),
    )
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    data_file = fields.Binary(string="File", required=True)
    filename = fields.Char()
    file_format = fields.Selection(
        [("auto", "From the file name"), ("csv", "CSV"), ("camt053", "CAMT.053 (ISO 20022 XML)")],
        required=True,
        default="auto",
    )
    csv_delimiter = fields.Selection(
        # "tab", not the character: a selection value names its record (and its translation) in es.po.
        [(",", "Comma"), (";", "Semicolon"), ("tab", "Tab")],
        string="Delimiter",
        default=",",
        required=True,
    )
    csv_decimal_separator = fields.Selection(
        [(".", "Point (1234.56)"), (",", "Comma (1234,56)")], string="Decimal Separator", default=".", required=True
    )
    csv_date_format = fields.Char(string="Date Format", default="%Y-%m-%d", required=True)
    csv_encoding = fields.Selection(
        [("utf-8", "UTF-8"), ("latin-1", "Latin-1 (ISO 8859-1)"), ("cp1252", "Windows-1252")],
        string="Encoding",
        default="utf-8",
        required=True,
    )
    csv_date_column = fields.Char(string="Date Column", default="date", required=True)
    csv_amount_column = fields.Char(string="Amount Column", default="amount", required=True)
    csv_label_column = fields.Char(string="Label Column", default="label", required=True)
    csv_partner_column = fields.Char(string="Customer Name Column", default="partner")
    csv_account_column = fields.Char(string="Account Number Column", default="account")
    match_after_import = fields.Boolean(default=True, help="Run the matcher on the imported lines at once.")

    def _detected_format(self):
        if self.file_format != "auto":
            return self.file_format
        name = (self.filename or "").lower()
        if name.endswith(".csv") or name.endswith(".txt"):
            return "csv"
        if name.endswith(".xml") or ".053" in name or "camt" in name:
            return "camt053"
        raise UserError(_("Cannot tell the format of %(file)s: choose CSV or CAMT.053.", file=self.filename or "-"))

    def _parse(self):
        data = base64.b64decode(self.data_file or b"")
        try:
            if self._detected_format() == "csv":
                return statement_parsers.parse_csv(
                    data,
                    columns={
                        "date": self.csv_date_column,
                        "amount": self.csv_amount_column,
                        "label": self.csv_label_column,
                        "partner_name": self.csv_partner_column or "",
                        "account_number": self.csv_account_column or "",
                    },
                    delimiter="\t" if self.csv_delimiter == "tab" else self.csv_delimiter,
                    decimal_separator=self.csv_decimal_separator,
                    date_format=self.csv_date_format,
                    encoding=self.csv_encoding,
                )
            return statement_parsers.parse_camt053(data)
        except statement_parsers.StatementFileError as error:
            raise UserError(
                _("%(file)s cannot be imported: %(reason)s", file=self.filename or _("The file"), reason=str(error))
            ) from error

    def _check_statements(self, statements):
        journal = self.journal_id
        journal_currency = journal.currency_id or journal.company_id.currency_id
        journal_account = sanitize_account_number(journal.bank_acc_number or "")
        for statement in statements:
            if statement["currency"] and statement["currency"] != journal_currency.name:
                raise UserError(
                    _(
                        "The statement %(statement)s is in %(currency)s but the journal %(journal)s "
                        "in %(journal_currency)s.",
                        statement=statement["name"] or "-",
                        currency=statement["currency"],
                        journal=journal.display_name,
                        journal_currency=journal_currency.name,
                    )
                )
            account = sanitize_account_number(statement["account_number"] or "")
            if account and journal_account and account != journal_account:
                raise UserError(
                    _(
                        "The statement %(statement)s is for the account %(account)s, not for %(journal)s (%(number)s).",
                        statement=statement["name"] or "-",
                        account=statement["account_number"],
                        journal=journal.display_name,
                        number=journal.bank_acc_number,
                    )
                )

    def _partners_by_line(self, lines):
        """Customers recognised by bank account number, else by exact name: one query each.
        An account or a name two customers share identifies neither; a shared account and the
        name of one of its holders identify that holder."""
        numbers = {sanitize_account_number(line["account_number"]) for line in lines if line["account_number"]}
        holders = {}  # account: {commercial partner id}
        if numbers:
            for bank in self.env["res.partner.bank"].search(
                [("sanitized_acc_number", "in", list(numbers)), ("partner_id", "!=", False)]
            ):
                holders.setdefault(bank.sanitized_acc_number, set()).add(bank.partner_id.commercial_partner_id.id)
        names = {line["partner_name"].strip().lower() for line in lines if line["partner_name"]}
        by_name = {}
        if names:
            self.env.cr.execute(
                """
                SELECT lower(name), min(id), count(*) FROM res_partner
                 WHERE lower(name) = ANY(%s) AND parent_id IS NULL AND active
                   AND (company_id IS NULL OR company_id = %s)
                 GROUP BY lower(name)
                """,
                [list(names), self.company_id.id],
            )
            # A name two customers share identifies neither.
            by_name = {name: partner_id for name, partner_id, count in self.env.cr.fetchall() if count == 1}
        result = []
        for line in lines:
            account_holders = holders.get(sanitize_account_number(line["account_number"] or ""), set())
            named = by_name.get((line["partner_name"] or "").strip().lower(), False)
            if len(account_holders) == 1:
                result.append(next(iter(account_holders)))
            elif account_holders:
                result.append(named if named in account_holders else False)
            else:
                result.append(named)
        return result

    def action_import(self):
        self.ensure_one()
        statements = self._parse()
        self._check_statements(statements)
        created = self.env["account.bank.statement"]
        for statement in statements:
            lines = statement["lines"]
            partners = self._partners_by_line(lines)
            values = {
                "name": statement["name"] or self.filename,
                "journal_id": self.journal_id.id,
                "line_ids": [
                    Command.create(
                        {
                            "journal_id": self.journal_id.id,
                            "date": line["date"],
                            "amount": line["amount"],
                            "payment_ref": line["payment_ref"],
                            "partner_name": line["partner_name"] or False,
                            "account_number": line["account_number"] or False,
                            "partner_id": partner_id,
                            "ref": line["ref"] or False,
                        }
                    )
                    for line, partner_id in zip(lines, partners, strict=True)
                ],
            }
            if statement["balance_start"] is not None:
                values["balance_start"] = statement["balance_start"]
            if statement["balance_end"] is not None:
                values["balance_end_real"] = statement["balance_end"]
            created |= self.env["account.bank.statement"].create(values)
        if self.match_after_import:
            self.env["collections.reconcile.match"]._match(self.company_id, statement_lines=created.line_ids)
        return self._result_action(created)

    @api.model
    def _result_action(self, statements):
        action = self.env["ir.actions.act_window"]._for_xml_id("collections_omni.collections_reconcile_match_action")
        action["domain"] = [("statement_line_id", "in", statements.line_ids.ids)]
        action["context"] = {}
        return action

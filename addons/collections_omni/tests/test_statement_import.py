import base64

from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tools.misc import file_open

from ..tools.statement_parsers import parse_camt053
from .common import CollectionsCommon


@tagged("post_install", "-at_install")
class TestStatementImport(CollectionsCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bank = cls.company_data["default_journal_bank"]
        cls.Statement = cls.env["account.bank.statement"]

    def _import(self, content, filename, **values):
        wizard = self.env["collections.statement.import"].create(
            {"journal_id": self.bank.id, "data_file": base64.b64encode(content), "filename": filename, **values}
        )
        return wizard.action_import()

    def _sample(self, name):
        with file_open(f"collections_omni/tests/data/{name}", "rb") as handle:
            content = handle.read()
        # The samples are in euros; the test company keeps its books in another currency.
        currency = self.company.currency_id.name.encode()
        return content.replace(b'Ccy="EUR"', b'Ccy="%s"' % currency).replace(
            b"<Ccy>EUR</Ccy>", b"<Ccy>%s</Ccy>" % currency
        )

    def test_csv_sample(self):
        before = self.Statement.search_count([])
        self._import(self._sample("statement.csv"), "statement.csv")
        statement = self.Statement.search([], order="id desc", limit=1)
        self.assertEqual(self.Statement.search_count([]), before + 1)
        lines = statement.line_ids.sorted("amount")
        self.assertEqual(lines.mapped("amount"), [-45.90, 250.50, 1000.0])
        self.assertEqual(lines[2].payment_ref, "Payment INV/2026/00001 thank you")
        self.assertEqual(lines[2].partner_id, self.customer)  # recognised by its exact name
        self.assertEqual(lines[2].account_number, "ES7921000813610123456789")
        self.assertFalse(lines[1].partner_id)

    def test_csv_import_matches(self):
        invoice = self._invoice(self.customer, 432.10, 10)
        content = (
            f"fecha;importe;concepto\n15/06/2026;432,10;Pago factura {invoice.name}\n16/06/2026;1.234,56;Otro cobro\n"
        ).encode()
        action = self._import(
            content,
            "banco.csv",
            csv_delimiter=";",
            csv_decimal_separator=",",
            csv_date_format="%d/%m/%Y",
            csv_date_column="fecha",
            csv_amount_column="importe",
            csv_label_column="concepto",
            csv_partner_column=False,
            csv_account_column=False,
        )
        self.assertEqual(action["res_model"], "collections.reconcile.match")
        statement = self.Statement.search([], order="id desc", limit=1)
        self.assertEqual(sorted(statement.line_ids.mapped("amount")), [432.10, 1234.56])
        self.assertEqual(invoice.payment_state, "paid")

    def test_csv_bad_amount_imports_nothing(self):
        before = self.Statement.search_count([])
        with self.assertRaisesRegex(UserError, r"Line 3: amount '12.3x' is not a number"):
            self._import(self._sample("statement_bad_amount.csv"), "bad.csv")
        self.assertEqual(self.Statement.search_count([]), before)

    def test_csv_missing_column(self):
        with self.assertRaisesRegex(UserError, r"Line 1: no column 'importe'"):
            self._import(self._sample("statement.csv"), "statement.csv", csv_amount_column="importe")

    def test_csv_bad_date(self):
        content = b"date,amount,label\n2026-06-10,10.00,ok\n10/06/2026,12.00,bad date\n"
        with self.assertRaisesRegex(UserError, r"Line 3: date '10/06/2026' does not follow the format %Y-%m-%d"):
            self._import(content, "bad.csv")

    def test_camt053_sample(self):
        self.customer.bank_ids = [(0, 0, {"acc_number": "ES79 2100 0813 6101 2345 6789"})]
        invoice = self._invoice(self.customer, 1000.0, 10)
        content = self._sample("camt053.xml").replace(b"INV/2026/00001", invoice.name.encode())
        self._import(content, "statement.xml")
        statement = self.Statement.search([], order="id desc", limit=1)
        self.assertEqual(statement.name, "2026-06-12-001")
        self.assertAlmostEqual(statement.balance_start, 500.0)
        self.assertAlmostEqual(statement.balance_end_real, 1730.0)
        lines = statement.line_ids.sorted("amount")
        self.assertEqual(lines.mapped("amount"), [-70.0, 120.0, 180.0, 1000.0])
        self.assertEqual(lines[3].partner_id, self.customer)  # by IBAN
        self.assertEqual(lines[0].payment_ref, "Bank charges")
        self.assertEqual(lines[1].payment_ref, "Order 77 first half")
        self.assertEqual(lines[1].partner_name, "Unknown Payer")
        self.assertEqual(invoice.payment_state, "paid")
        self.assertTrue(lines[3].is_reconciled)

    def test_camt053_transactions_take_their_own_direction_else_the_entry_s(self):
        """A batched entry whose first transaction is a debit: the next one, without its own
        indicator, is the entry's credit again (not the previous transaction's debit)."""
        content = self._sample("camt053.xml")
        first_tx = content.index(b"<TxDtls>", content.index(b">300.00</Amt>"))
        content = content[:first_tx] + b"<TxDtls><CdtDbtInd>DBIT</CdtDbtInd>" + content[first_tx + len(b"<TxDtls>") :]
        (statement,) = parse_camt053(content)
        amounts = [line["amount"] for line in statement["lines"]]
        self.assertIn(-120.0, amounts)
        self.assertIn(180.0, amounts)

    def test_camt053_newer_version(self):
        content = self._sample("camt053.xml").replace(b"camt.053.001.02", b"camt.053.001.08")
        content = content.replace(
            b"<Dbtr><Nm>Unknown Payer</Nm></Dbtr>", b"<Dbtr><Pty><Nm>Unknown Payer</Nm></Pty></Dbtr>"
        )
        self._import(content, "statement.xml", file_format="camt053")
        statement = self.Statement.search([], order="id desc", limit=1)
        self.assertEqual(len(statement.line_ids), 4)
        self.assertEqual(set(statement.line_ids.mapped("partner_name")) - {False}, {"Cliente Uno", "Unknown Payer"})

    def test_camt053_bad_files_import_nothing(self):
        before = self.Statement.search_count([])
        with self.assertRaisesRegex(UserError, r"Statement 2026-06-12-001, entry 3: no amount"):
            self._import(self._sample("camt053_bad_amount.xml"), "bad.xml")
        with self.assertRaisesRegex(UserError, r"Not a CAMT.053 bank statement"):
            self._import(
                b'<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"/>', "x.xml"
            )
        with self.assertRaisesRegex(UserError, r"not valid XML"):
            self._import(b"<Document><unclosed></Document>", "x.xml")
        self.assertEqual(self.Statement.search_count([]), before)

    def test_statement_of_another_account_refused(self):
        self.bank.bank_acc_number = "BE71096123456769"
        with self.assertRaisesRegex(UserError, r"is for the account BE68539007547034"):
            self._import(self._sample("camt053.xml"), "statement.xml")

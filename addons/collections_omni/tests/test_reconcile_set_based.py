from unittest.mock import patch

from odoo.tests import tagged

from .common import TODAY, CollectionsCommon

# Columns that name the records themselves (ids, sequence numbers, labels carrying
# the invoice number, timestamps) and so differ between two twin scenarios.
IGNORED = {
    "id",
    "create_date",
    "write_date",
    "name",
    "ref",
    "move_name",
    "payment_reference",
    "payment_ref",
    "sequence_prefix",
    "sequence_number",
    "access_token",
    "internal_index",
    "inalterable_hash",
    "secure_sequence_number",
    "made_sequence_gap",
    "record_name",
    "date",
    "body",
    "message_id",
    "invoice_partner_display_name",
    "label",
    "reconciled_at",
}
# Columns holding ids of the twin's own records: compared through a translation.
OWN_IDS = {
    "move_id",
    "partner_id",
    "commercial_partner_id",
    "statement_line_id",
    "statement_id",
    "res_id",
    "debit_move_id",
    "credit_move_id",
    "full_reconcile_id",
    "mail_message_id",
    "message_main_attachment_id",
    "partner_shipping_id",
    "matching_number",
    "origin_payment_id",
    "payment_id",
    "memo",
    "match_id",
    "partial_id",
    "original_partner_id",
}


@tagged("post_install", "-at_install")
class TestReconcileSetBased(CollectionsCommon):
    """The set-based writer writes what Odoo's accounting ORM writes: twin
    scenarios are reconciled one each way and every column of the journal
    items, entries, partials, statement lines and chatter is compared."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The invoices' chatter is part of what is compared.
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=False, mail_notrack=False))
        cls.Match = cls.env["collections.reconcile.match"]
        cls.bank = cls.company_data["default_journal_bank"]
        cls.write_off = cls.company_data["default_account_expense"]
        cls.company.collections_reconcile_tolerance = 1.0
        cls.company.collections_reconcile_writeoff_account_id = cls.write_off

    def _scenario(self, name, set_based):
        """One customer, nine invoices, eight statement lines: a full payment
        without customer, a partial payment, two invoices in one line, a
        write-off within the tolerance, the rest of an invoice partly paid
        before, more of another, the rest of an invoice partly credited, and
        an overpayment confirmed from the review queue (its surplus stays as
        the customer's credit)."""
        self.company.collections_reconcile_set_based = set_based
        match_class = type(self.Match)
        written = []
        original = match_class._reconcile_set_based

        def spy(matches, *args):
            written.extend(matches.ids)
            return original(matches, *args)

        patcher = patch.object(match_class, "_reconcile_set_based", spy)
        patcher.start()
        self.addCleanup(patcher.stop)
        customer = self._customer(name)
        invoices = [
            self._invoice(customer, amount, days)
            for amount, days in ((1000, 10), (800, 20), (100, 30), (250, 25), (400, 5))
        ]
        # Two invoices partly paid before, by a registered payment: one is settled now (a full
        # reconcile over the payment too), the other paid a bit more.
        for amount in (600, 700):
            invoices.append(self._invoice(customer, amount, 15))
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoices[-1].ids
            ).create({"amount": 200, "payment_date": TODAY})._create_payments()
        # One more, credited in part by a credit note before; the bank pays the rest.
        invoices.append(self._invoice(customer, 900, 12))
        credit_note = self._invoice(customer, 150, 12, move_type="out_refund")
        (invoices[-1] | credit_note).line_ids.filtered(lambda aml: aml.account_type == "asset_receivable").reconcile()
        Line = self.env["account.bank.statement.line"]
        lines = [
            Line.create(
                {
                    "journal_id": self.bank.id,
                    "date": TODAY,
                    "amount": amount,
                    "payment_ref": label,
                    "partner_id": partner,
                }
            )
            for amount, label, partner in (
                (1000.0, f"Pago {invoices[0].name}", False),
                (300.0, f"A cuenta {invoices[1].name}", customer.id),
                (350.0, f"Facturas {invoices[2].name} {invoices[3].name}", customer.id),
                (399.40, f"Pago {invoices[4].name}", customer.id),
                (400.0, f"Pago {invoices[5].name}", customer.id),
                (300.0, f"A cuenta {invoices[6].name}", customer.id),
                (750.0, f"Pago {invoices[7].name}", customer.id),
            )
        ]
        self.Match._match(self.company, statement_lines=Line.concat(*lines))
        overpaid = self._invoice(customer, 500.0, 3)
        line = Line.create(
            {
                "journal_id": self.bank.id,
                "date": TODAY,
                "amount": 650.0,
                "payment_ref": overpaid.name,
                "partner_id": customer.id,
            }
        )
        self.Match._match(self.company, statement_lines=line)
        match = self.Match.search([("statement_line_id", "=", line.id)])
        self.assertEqual(match.state, "proposed")
        match.action_confirm()
        matches = self.Match.search([("statement_line_id", "in", [*(x.id for x in lines), line.id])])
        self.assertEqual(set(matches.mapped("state")), {"auto_reconciled", "confirmed"})
        self.assertEqual(sorted(written), sorted(matches.ids) if set_based else [])
        patcher.stop()
        # Tracking is written by the pre-commit hooks.
        self.env.cr.flush()
        return customer, invoices + [overpaid], lines + [line]

    def _rows(self, table, where, params, order):
        self.env.cr.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY {order}", params)  # noqa: S608
        names = [column.name for column in self.env.cr.description]
        return [dict(zip(names, row, strict=True)) for row in self.env.cr.fetchall()]

    def _snapshot(self, customer, invoices, lines):
        moves = [m.id for m in invoices] + [line.move_id.id for line in lines]
        # The registered payments' entries, reconciled with the same invoices.
        self.env.cr.execute(
            """
            SELECT DISTINCT o.move_id
              FROM account_move_line l
              JOIN account_partial_reconcile p ON l.id IN (p.debit_move_id, p.credit_move_id)
              JOIN account_move_line o ON o.id IN (p.debit_move_id, p.credit_move_id) AND o.id != l.id
             WHERE l.move_id = ANY(%s) AND o.move_id != ALL(%s)
             ORDER BY o.move_id
            """,
            [[m.id for m in invoices], moves],
        )
        payment_moves = [move_id for (move_id,) in self.env.cr.fetchall()]
        moves += payment_moves
        items = self._rows(
            "account_move_line",
            "move_id = ANY(%s)",
            [moves],
            "array_position(%s::int[], move_id), account_id, balance" % ("ARRAY" + str(moves)),
        )
        item_ids = [item["id"] for item in items]
        partials = self._rows(
            "account_partial_reconcile",
            "debit_move_id = ANY(%s) OR credit_move_id = ANY(%s)",
            [item_ids, item_ids],
            "amount, max_date, array_position(%s::int[], "
            "(SELECT move_id FROM account_move_line WHERE id = debit_move_id))" % ("ARRAY" + str(moves)),
        )
        entries = self._rows(
            "account_move", "id = ANY(%s)", [moves], "array_position(%s::int[], id)" % ("ARRAY" + str(moves))
        )
        payments = self._rows("account_payment", "move_id = ANY(%s)", [moves], "amount, id")
        self.assertEqual(len(payment_moves), 3)  # two payments and the credit note
        self.assertEqual(len(payments), 2)
        statement_lines = self._rows(
            "account_bank_statement_line",
            "id = ANY(%s)",
            [[line.id for line in lines]],
            "array_position(%s::int[], move_id)" % ("ARRAY" + str(moves)),
        )
        messages = self._rows(
            "mail_message",
            "model = 'account.move' AND res_id = ANY(%s)",
            [[m.id for m in invoices]],
            "res_id, id",
        )
        tracking = self._rows(
            "mail_tracking_value",
            "mail_message_id = ANY(%s)",
            [[m["id"] for m in messages]],
            "(SELECT res_id FROM mail_message WHERE id = mail_message_id), id",
        )
        # The collections log: what each match records having reconciled (undo relies on it).
        line_ids = [line.id for line in lines]
        matches = self._rows(
            "collections_reconcile_match",
            "statement_line_id = ANY(%s)",
            [line_ids],
            "array_position(%s::int[], statement_line_id)" % ("ARRAY" + str(line_ids)),
        )
        match_ids = [match["id"] for match in matches]
        match_partials = self._rows(
            "collections_reconcile_match_partial_rel r JOIN account_partial_reconcile p ON p.id = r.partial_id",
            "r.match_id = ANY(%s)",
            [match_ids],
            "array_position(%s::int[], r.match_id), p.amount" % ("ARRAY" + str(match_ids)),
        )
        match_invoices = self._rows(
            "collections_reconcile_match_invoice_rel",
            "match_id = ANY(%s)",
            [match_ids],
            f"array_position(ARRAY{match_ids}::int[], match_id), array_position(ARRAY{moves}::int[], move_id)",
        )
        # Ids of this twin's own records are replaced by their rank in order of appearance.
        translation = {}

        def normal(rows, table):
            result = []
            for row in rows:
                clean = {}
                for column, value in row.items():
                    if column in IGNORED or column.startswith(("create_", "write_")) and column.endswith("_date"):
                        continue
                    if column in OWN_IDS and value is not None:
                        if column == "matching_number":
                            value = (
                                value[:1] if value.startswith("P") else "F",
                                translation.setdefault(("n", value), len(translation)),
                            )
                        else:
                            value = translation.setdefault((column, value), len(translation))
                    clean[column] = value
                result.append(clean)
            return {table: result}

        snapshot = {}
        for table, rows in (
            ("account_move_line", items),
            ("account_partial_reconcile", partials),
            ("account_move", entries),
            ("account_bank_statement_line", statement_lines),
            ("account_payment", payments),
            ("mail_message", messages),
            ("mail_tracking_value", tracking),
            ("collections_reconcile_match", matches),
            ("collections_reconcile_match_partial_rel", match_partials),
            ("collections_reconcile_match_invoice_rel", match_invoices),
        ):
            snapshot.update(normal(rows, table))
        return snapshot

    def test_set_based_writes_what_the_orm_writes(self):
        orm = self._snapshot(*self._scenario("Cliente ORM", set_based=False))
        fast = self._snapshot(*self._scenario("Cliente SQL", set_based=True))
        for table in orm:
            self.assertEqual(len(orm[table]), len(fast[table]), table)
            for index, (orm_row, fast_row) in enumerate(zip(orm[table], fast[table], strict=True)):
                differences = {
                    column: (orm_row[column], fast_row.get(column))
                    for column in orm_row
                    if orm_row[column] != fast_row.get(column)
                }
                self.assertFalse(differences, f"{table} row {index}: {differences}")

    def test_followers_of_paid_invoices_are_notified(self):
        """Whoever follows an invoice's "Paid" updates hears of it, as through
        the ORM; the others' chatter is written set-based."""
        self.company.collections_reconcile_set_based = True
        customer = self._customer("Cliente Seguido")
        followed, quiet = self._invoice(customer, 300.0, 10), self._invoice(customer, 200.0, 10)
        watcher = self.env["res.partner"].create({"name": "Controller", "email": "controller@example.com"})
        followed.message_subscribe(partner_ids=watcher.ids, subtype_ids=self.env.ref("account.mt_invoice_paid").ids)
        self.env.cr.flush()
        Line = self.env["account.bank.statement.line"]
        lines = Line.concat(
            *(
                Line.create(
                    {"journal_id": self.bank.id, "date": TODAY, "amount": inv.amount_total, "payment_ref": inv.name}
                )
                for inv in (followed, quiet)
            )
        )
        self.Match._match(self.company, statement_lines=lines)
        self.env.cr.flush()
        self.assertEqual((followed | quiet).mapped("payment_state"), ["paid", "paid"])
        for invoice, notified in ((followed, watcher), (quiet, self.env["res.partner"])):
            paid = invoice.message_ids.filtered(lambda m: m.subtype_id == self.env.ref("account.mt_invoice_paid"))
            self.assertEqual(len(paid), 1)
            self.assertEqual(paid.tracking_value_ids.mapped("new_value_char"), ["Paid"])
            self.assertEqual(paid.notification_ids.res_partner_id, notified)

    def test_paid_message_headers_are_those_of_mail(self):
        """The reply-to, alias domain and company of the set-based "Paid"
        messages are what mail's generic methods give, with and without a
        catchall address (which puts the document's name in the reply-to)."""
        customer = self._customer("Cliente Cabeceras")
        invoices = self._invoice(customer, 100.0, 10) | self._invoice(customer, 200.0, 10)
        email_from = self.env.user.email_formatted

        def generic():
            return (
                invoices._notify_get_reply_to(default=email_from),
                invoices.sudo()._mail_get_alias_domains(default_company=self.env.company),
                invoices._mail_get_companies(default=self.env.company),
            )

        self.company.alias_domain_id = False
        self.assertFalse(self.company.catchall_email)
        self.assertEqual(self.Match._paid_message_headers(invoices, email_from), generic())
        self.company.alias_domain_id = self.env["mail.alias.domain"].create(
            {"name": "cobros.example.com", "catchall_alias": "cobros"}
        )
        self.assertEqual(self.company.catchall_email, "cobros@cobros.example.com")
        expected = generic()
        self.assertIn(invoices[0].name, expected[0][invoices[0].id])
        self.assertEqual(self.Match._paid_message_headers(invoices, email_from), expected)

    def _reconcile_watching_compute_amount(self, name):
        customer = self._customer(name)
        invoice = self._invoice(customer, 300.0, 10)
        line = self.env["account.bank.statement.line"].create(
            {"journal_id": self.bank.id, "date": TODAY, "amount": 300.0, "payment_ref": invoice.name}
        )
        move_class = type(invoice)
        with patch.object(
            move_class, "_compute_amount", autospec=True, side_effect=move_class._compute_amount
        ) as compute:
            self.Match._match(self.company, statement_lines=line)
            self.env.flush_all()
        self.assertEqual(invoice.payment_state, "paid")
        return any(invoice in call.args[0] for call in compute.call_args_list)

    def test_fields_of_other_modules_are_recomputed_by_odoo(self):
        """The writer's own fields are not computed a second time; a stored
        field that a module beyond the proven ones defines or extends is left
        to Odoo's recomputation."""
        self.company.collections_reconcile_set_based = True
        self.assertEqual(self.Match._reconcile_dependents()[1], ())
        self.assertFalse(self._reconcile_watching_compute_amount("Cliente Contable"))
        field = self.env["account.move"]._fields["amount_total"]
        self.addCleanup(self.env.registry.clear_cache)
        self.addCleanup(setattr, field, "_modules", field._modules)
        field._modules = (*field._modules, "sale")
        self.env.registry.clear_cache()
        self.assertIn("account.move.amount_total", self.Match._reconcile_dependents()[1])
        self.assertTrue(self._reconcile_watching_compute_amount("Cliente Venta"))

    def test_registered_payments_are_settled_as_odoo_computes_them(self):
        """A registered payment whose invoice the bank line settles is paid
        now, without its entry being read one by one; its number and
        matching flags, and the payment whose invoice stays partial, are
        exactly what Odoo's own computation gives."""
        self.company.collections_reconcile_set_based = True
        customer = self._customer("Cliente Pagos")
        settled, still_open = self._invoice(customer, 600.0, 15), self._invoice(customer, 700.0, 15)
        payments = self.env["account.payment"]
        for invoice in (settled, still_open):
            payments |= (
                self.env["account.payment.register"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create({"amount": 200, "payment_date": TODAY})
                ._create_payments()
            )
        self.assertEqual(payments.mapped("state"), ["in_process", "in_process"])
        self.assertTrue(all(payments.mapped("outstanding_account_id")))
        Line = self.env["account.bank.statement.line"]
        lines = Line.create(
            [
                {"journal_id": self.bank.id, "date": TODAY, "amount": 400.0, "payment_ref": settled.name},
                {
                    "journal_id": self.bank.id,
                    "date": TODAY,
                    "amount": 100.0,
                    "payment_ref": f"A cuenta {still_open.name}",
                },
            ]
        )
        self.env.flush_all()
        payment_class = type(payments)
        with patch.object(
            payment_class, "_seek_for_lines", autospec=True, side_effect=payment_class._seek_for_lines
        ) as seek:
            self.Match._match(self.company, statement_lines=lines)
            self.env.flush_all()
        self.assertFalse(seek.called)
        self.assertEqual((settled | still_open).mapped("payment_state"), ["paid", "partial"])
        fields = ["state", "name", "is_reconciled", "is_matched", "write_uid"]
        query = f"SELECT {', '.join(fields)} FROM account_payment WHERE id = ANY(%s) ORDER BY id"
        self.env.cr.execute(query, [payments.ids])
        written = self.env.cr.fetchall()
        self.assertEqual([row[0] for row in written], ["paid", "in_process"])
        # Odoo's computation of the same fields, from scratch, finds nothing to change.
        payments.invalidate_recordset()
        for name in ("state", "name", "is_reconciled", "is_matched"):
            self.env.add_to_compute(payments._fields[name], payments)
        self.env.flush_all()
        self.env.cr.execute(query, [payments.ids])
        self.assertEqual(self.env.cr.fetchall(), written)

    def test_a_locked_period_stops_it_as_it_stops_the_orm(self):
        """A statement line dated before the lock date is not reconciled: it
        waits in the review queue with the reason, and nothing is written."""
        self.company.collections_reconcile_set_based = True
        customer = self._customer("Cliente Cerrado")
        invoice = self._invoice(customer, 300.0, 10)
        locked = self.env["account.bank.statement.line"].create(
            {"journal_id": self.bank.id, "date": TODAY, "amount": 300.0, "payment_ref": invoice.name}
        )
        # Odoo refuses to lock a period with unreconciled statement lines; the lock is set behind
        # its back here to see the writer refuse as the ORM would.
        self.env.cr.execute("UPDATE res_company SET fiscalyear_lock_date = %s WHERE id = %s", [TODAY, self.company.id])
        self.env.invalidate_all()
        self.Match._match(self.company, statement_lines=locked)
        match = self.Match.search([("statement_line_id", "=", locked.id)])
        self.assertEqual(match.state, "proposed")
        self.assertIn("prior to and inclusive of", match.message_ids[:1].body)
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertFalse(locked.is_reconciled)
        self.assertFalse(locked.move_id.line_ids.filtered(lambda aml: aml.account_type == "asset_receivable"))

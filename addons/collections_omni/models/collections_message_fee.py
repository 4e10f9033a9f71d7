from odoo import fields, models

from .collections_message_audit import engine_transition


class CollectionsMessageFee(models.AbstractModel):
    """A stage's dunning fee and late interest, posted as a customer invoice
    (``fee_move_id``) on the message of the stage's first action, when the
    message goes out."""

    _name = "collections.message.fee"
    _description = "Collections Message Fee"

    @engine_transition
    def _post_stage_fees(self):
        """Post the dunning fee (and late interest) of a stage as a real
        customer invoice with the fee product's taxes, once per customer,
        currency and stage: on the message of the stage's first action."""
        for message in self.filtered(lambda m: m.stage_id.fee_product_id and not m.fee_move_id):
            stage = message.stage_id
            # The invoice goes to the customer: its lines in the customer's language, not the run's.
            customer_env = message.with_context(lang=message._reminder_lang()).env
            if message.action_id != stage.action_ids.sorted(lambda a: (a.sequence, a.id))[:1]:
                continue
            lines = []
            if stage.fee_amount:
                fee = stage.currency_id._convert(
                    stage.fee_amount, message.currency_id, message.company_id, message.planned_date
                )
                lines.append({"name": stage.fee_product_id.with_env(customer_env).display_name, "price_unit": fee})
            interest = message._late_interest()
            if interest:
                lines.append(
                    {
                        "name": customer_env._("Late interest (%(rate)s%% a year)", rate=stage.interest_rate),
                        "price_unit": interest,
                    }
                )
            if not lines:
                continue
            fee_move = (
                self.env["account.move"]
                .with_company(message.company_id)
                .create(
                    {
                        "move_type": "out_invoice",
                        "partner_id": message.partner_id.id,
                        "currency_id": message.currency_id.id,
                        "invoice_date": message.planned_date,
                        "invoice_origin": stage.display_name,
                        "invoice_line_ids": [
                            fields.Command.create({"product_id": stage.fee_product_id.id, "quantity": 1, **line})
                            for line in lines
                        ],
                    }
                )
            )
            fee_move.action_post()
            message.fee_move_id = fee_move

    @engine_transition
    def _late_interest(self):
        """Simple yearly interest on each overdue invoice's open amount, for the days it is late."""
        self.ensure_one()
        rate = self.stage_id.interest_rate
        if not rate:
            return 0.0
        total = 0.0
        for move in self.move_ids.filtered(lambda m: m.move_type == "out_invoice" and m.invoice_date_due):
            days = (self.planned_date - move.invoice_date_due).days
            if days > 0:
                total += move.amount_residual * rate / 100 * days / 365
        return self.currency_id.round(total)

import os
import re

from odoo import Command, _, api, models
from odoo.exceptions import UserError
from odoo.tools import LazyTranslate

from .account_move import portal_text

_lt = LazyTranslate(__name__)

# What a customer may write about a dispute: a few paragraphs, not a letter.
MAX_DESCRIPTION_LENGTH = 2000
DESCRIPTION_TOO_LONG = _lt("Please keep your explanation to %(count)s characters at most (it has %(length)s).")
# Evidence a customer may attach to a dispute: at most this many files, each at most this big.
MAX_EVIDENCE_FILES = 5
MAX_EVIDENCE_SIZE = 5 * 1024 * 1024
# The file types a customer may attach, each by its extensions and the bytes its content starts with:
# the content decides, so that a renamed executable or web page is refused.
EVIDENCE_TYPES = {
    "application/pdf": ((".pdf",), b"%PDF-"),
    "image/png": ((".png",), b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": ((".jpg", ".jpeg"), b"\xff\xd8\xff"),
}
# How many disputes, besides the open ones, the portal shows.
PORTAL_PAST_DISPUTES = 10


class CollectionsDispute(models.Model):
    _inherit = "collections.dispute"

    @api.model
    def _portal_disputes(self, partner, past_limit=PORTAL_PAST_DISPUTES):
        """The customer's disputes, as superuser but only theirs: the open
        ones, then the last ``past_limit`` resolved, each most recent first."""
        return self._portal_open_then_ended(partner, past_limit, "id desc")

    @api.model
    def _portal_reasons(self):
        """[(code, label)] the customer chooses from: the dispute's own reasons, in the reader's language."""
        return self._fields["reason"]._description_selection(self.env)

    @api.model
    def _portal_check_evidence(self, files):
        """The files a customer attaches, checked: at most MAX_EVIDENCE_FILES,
        each at most MAX_EVIDENCE_SIZE, a PDF, PNG or JPEG by its extension
        and by its content alike.

        :param files: [(file name, content bytes)] (empty uploads already left out)
        :return: [(safe file name, content, mimetype)]
        :raise UserError: with what is wrong
        """
        if len(files) > MAX_EVIDENCE_FILES:
            raise UserError(_("Attach at most %(count)s files.", count=MAX_EVIDENCE_FILES))
        checked = []
        for name, content in files:
            # Only the base name, without path or control characters, short enough for any file system.
            safe_name = re.sub(r"[\x00-\x1f\x7f/\\]", "", os.path.basename((name or "").replace("\\", "/")))[-120:]
            safe_name = safe_name.strip() or "evidence"
            if len(content) > MAX_EVIDENCE_SIZE:
                raise UserError(
                    _(
                        "%(file)s is too large: attach files of at most %(size)s MB.",
                        file=safe_name,
                        size=MAX_EVIDENCE_SIZE // (1024 * 1024),
                    )
                )
            extension = os.path.splitext(safe_name)[1].lower()
            mimetype = next(
                (
                    mimetype
                    for mimetype, (extensions, magic) in EVIDENCE_TYPES.items()
                    if extension in extensions and content.startswith(magic)
                ),
                None,
            )
            if not mimetype:
                raise UserError(
                    _("%(file)s is not a PDF, PNG or JPEG file: attach documents or photos only.", file=safe_name)
                )
            checked.append((safe_name, content, mimetype))
        return checked

    @api.model
    def _portal_dispute(self, partner, invoice_ids, reason, description, files=()):
        """The customer disputes some of their open invoices in the portal: an
        open dispute over them (the engine holds them out of dunning and drops
        their planned reminders at once), the files as its evidence, and a
        to-do for the collector. The invoices are locked first: the same
        dispute sent twice at once (a double tap) is made once, and the second
        gets the first.

        :param invoice_ids: ids as received from the form
        :param reason: a code of the dispute's reasons
        :param description: the customer's words (plain text)
        :param files: [(file name, content bytes)]
        :raise UserError: with what is wrong; nothing is written
        """
        partner = partner.commercial_partner_id
        if reason not in dict(self._portal_reasons()):
            raise UserError(_("Choose what is wrong from the list."))
        description = portal_text(self.env, description, MAX_DESCRIPTION_LENGTH, DESCRIPTION_TOO_LONG)
        if reason == "other" and not description:
            raise UserError(_("Tell us what is wrong."))
        evidence = self._portal_check_evidence(list(files))
        Move = self.env["account.move"]
        # Locked before the checks, so that a concurrent identical request sees this one's dispute.
        Move._collections_portal_open_invoices(
            partner, Move._collections_portal_ids(invoice_ids)
        )._collections_portal_lock()
        try:
            invoices = Move._collections_portal_selection(
                partner, invoice_ids, refused_holds=("dispute",), one_currency=False
            )
        except UserError:
            same = self._portal_same_dispute(partner, invoice_ids, reason)
            if same:
                return same
            raise
        company = invoices.company_id
        policy = self.env["collections.policy"].sudo()._for_partner(partner, company)
        # The owner is required: without any collector, the administrator looks after it.
        owner = policy._portal_collector(partner, company) or self.env.ref("base.user_admin")
        dispute = self._portal_create(
            partner, invoices, {"reason": reason, "description": description or False, "user_id": owner.id}
        )
        if evidence:
            attachments = (
                self.env["ir.attachment"]
                .sudo()
                .create(
                    [
                        {
                            "name": name,
                            "raw": content,
                            "mimetype": mimetype,
                            "res_model": dispute._name,
                            "res_id": dispute.id,
                        }
                        for name, content, mimetype in evidence
                    ]
                )
            )
            dispute.attachment_ids = [Command.set(attachments.ids)]
        user = self.env.user
        Note, words, attachments = self.env["collections.note"], description, dispute.attachment_ids.ids
        if user._is_public():
            Note._post(dispute, "portal_dispute_reported_by_link", words, attachments, customer=partner.display_name)
        else:
            Note._post(dispute, "portal_dispute_reported", words, attachments, person=user.partner_id.display_name)
        dispute._tell_collector("portal_dispute_to_resolve", words=description or None)
        return dispute

    @api.model
    def _portal_same_dispute(self, partner, invoice_ids, reason):
        """The customer's open dispute over exactly these invoices for this
        reason (the same request sent again), if any."""
        ids = self.env["account.move"]._collections_portal_ids(invoice_ids)
        disputes = self.sudo().search(
            [
                ("partner_id", "=", partner.id),
                ("state", "=", "open"),
                ("reason", "=", reason),
                ("move_ids", "in", list(ids)),
            ]
        )
        return disputes.filtered(lambda dispute: set(dispute.move_ids.ids) == ids)[:1]

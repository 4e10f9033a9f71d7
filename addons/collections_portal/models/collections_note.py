from odoo import api, models
from odoo.tools import LazyTranslate

_lt = LazyTranslate(__name__)

# The portal's chatter notes (the engine's table and how they are read: collections_omni/models/collections_note.py).
PORTAL_NOTE_LABELS = {
    "portal_promised": _lt("Promised by %(person)s in the customer portal."),
    "portal_plan_requested": _lt("Requested by %(person)s in the customer portal."),
    "portal_plan_approved": _lt("Approved at once: within the limits of the policy %(policy)s."),
    "portal_plan_accepted": _lt("Accepted by %(person)s in the customer portal."),
    "portal_plan_declined": _lt("Declined by %(person)s in the customer portal."),
    "portal_renegotiation_declined": _lt(
        "The customer declined its renegotiation %(plan)s: this plan stays %(plan_state)s."
    ),
    "portal_dispute_reported": _lt("Reported by %(person)s in the customer portal."),
    "portal_dispute_reported_by_link": _lt(
        "Reported by %(customer)s, through a reminder's link, in the customer portal."
    ),
    # The collector's to-dos (summaries), in the collector's language.
    "portal_plan_to_decide": _lt("Payment plan requested in the portal: accept (Activate) or reject (Cancel) it"),
    "portal_plan_declined_to_do": _lt("Payment plan %(plan)s declined by the customer in the portal"),
    "portal_dispute_to_resolve": _lt("Dispute reported in the portal: check it and resolve it"),
}


class CollectionsNote(models.AbstractModel):
    _inherit = "collections.note"

    @api.model
    def _note_labels(self):
        return {**super()._note_labels(), **PORTAL_NOTE_LABELS}

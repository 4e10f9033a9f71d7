from odoo import api, models
from odoo.tools import LazyTranslate

_lt = LazyTranslate(__name__)

# WhatsApp's chatter notes and collector to-dos (the engine's table and how they are read:
# collections_omni/models/collections_note.py).
WHATSAPP_NOTE_LABELS = {
    "whatsapp_account_stopped": _lt("Stopped by Meta's error %(error_code)s: %(message)s"),
    "whatsapp_template_instead": _lt(
        "WhatsApp refused the reminder's free text: the customer's 24-hour window had closed "
        "(131047). It goes as the approved template %(template)s instead."
    ),
    "whatsapp_sent_file": _lt("Sent %(file)s on WhatsApp."),
    "whatsapp_no_text": _lt("(%(type)s)"),
    "whatsapp_unknown_number": _lt("A WhatsApp message from a number no customer is known by"),
    "whatsapp_plan_failed": _lt("The customer chose a payment plan on WhatsApp that could not be set up"),
    "whatsapp_plan_chosen": _lt("Payment plan chosen on WhatsApp: accept (Activate) or reject (Cancel) it"),
    "whatsapp_already_paid": _lt("The customer says they have already paid: check the payment"),
    "whatsapp_person": _lt("The customer asks to talk to a person on WhatsApp"),
}


class CollectionsNote(models.AbstractModel):
    _inherit = "collections.note"

    @api.model
    def _note_labels(self):
        return {**super()._note_labels(), **WHATSAPP_NOTE_LABELS}

"""Reasons stored as sentences before 18.0.1.0.1 become codes and values.

Until then ``collections_message.blocked_reason`` held the sentence, in the
language of whoever ran the job (English or Spanish); now the message stores
``blocked_code`` + ``blocked_args`` and renders the sentence for its reader
(models/collections_message_reason.py), so old messages showed no reason. The
sentences below are the ones the engine and the WhatsApp channel wrote then,
frozen here on purpose (the labels may change; what was stored does not),
with the Spanish they were stored in. One UPDATE per kind, over all rows; a
sentence nothing matches is kept as it was written (code ``legacy``). The old
column stays, so nothing is lost and a second run changes nothing.
"""

import json
import logging

from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# The old sentence (English or Spanish) -> the code, for sentences without values.
FIXED = {
    "Paid since planning": "paid",
    "Pagado después de la planificación": "paid",
    "The customer opted out of this channel": "opt_out",
    "El cliente se dio de baja de este canal": "opt_out",
    "No email address": "no_email",
    "Sin dirección de correo electrónico": "no_email",
    "No mobile or phone number": "no_phone",
    "Sin número de móvil ni de teléfono": "no_phone",
    "Sin móvil ni teléfono": "no_phone",
    # Holds and netting: the run's skip-reason labels.
    "Invoices under a payment plan": "payment_plan",
    "Facturas incluidas en un plan de pagos": "payment_plan",
    "Promise to pay not yet due": "promise",
    "Promesa de pago aún no vencida": "promise",
    "Invoices in dispute": "dispute",
    "Facturas en disputa": "dispute",
    "Credit notes cover the balance": "netted",
    "Las facturas rectificativas cubren el saldo": "netted",
    # WhatsApp's own.
    "The number cannot be read: add the country code or the customer's country": "whatsapp_unparsable",
    "No se puede leer el número: añada el prefijo del país o el país del cliente": "whatsapp_unparsable",
    "The number is a fixed line: WhatsApp needs a mobile": "whatsapp_not_mobile",
    "El número es un fijo: WhatsApp necesita un móvil": "whatsapp_not_mobile",
}
# The contact rules' refusal labels (English and Spanish) -> collections.contact.refusal codes.
REFUSALS = {
    "Public holiday": "holiday",
    "Día festivo": "holiday",
    "Outside the allowed hours": "outside_hours",
    "Fuera del horario permitido": "outside_hours",
    "Too soon after the last contact": "min_gap",
    "Demasiado pronto tras el último contacto": "min_gap",
    "Too soon after a conversation": "after_conversation",
    "Demasiado pronto tras una conversación": "after_conversation",
    "Contact limit reached": "frequency",
    "Límite de contactos alcanzado": "frequency",
    "Too many channels in the window": "channels",
    "Demasiados canales en la ventana": "channels",
    "Opted out": "opt_out",
    "Dado de baja": "opt_out",
    "Outside the customer's preferred hours": "preferred_hours",
    "Fuera del horario preferido del cliente": "preferred_hours",
}
# Odoo's phone_validation errors (English, Spanish of Spain and Latin America), stored as they were raised.
INVALID_PHONE = (
    r"^(?:Impossible number|Invalid number|Unable to parse|Número imposible|Número no válido|Número incorrecto"
    r"|No se puede analizar) (.+?):"
)


def migrate(cr, version):
    if version:
        map_legacy_reasons(cr)


def _column_exists(cr, table, column):
    cr.execute("SELECT 1 FROM information_schema.columns WHERE table_name = %s AND column_name = %s", (table, column))
    return bool(cr.rowcount)


def map_legacy_reasons(cr):
    """Give every message whose reason is only an old sentence its code and values. Returns the rows mapped."""
    if not _column_exists(cr, "collections_message", "blocked_reason"):
        return 0
    todo = SQL("m.blocked_code IS NULL AND m.blocked_reason IS NOT NULL AND m.blocked_reason != ''")
    # The rule set and the refusal of a contact-rule reason are on the message's last refusal.
    last_refusal = SQL(
        """(SELECT DISTINCT ON (message_id) message_id, rule_set_id, reason
              FROM collections_contact_refusal ORDER BY message_id, refused_at DESC, id DESC)"""
    )
    updates = [
        # Fixed sentences.
        SQL(
            """UPDATE collections_message m SET blocked_code = f.code, blocked_args = NULL
                 FROM jsonb_each_text(%s::jsonb) AS f(sentence, code)
                WHERE %s AND m.blocked_reason = f.sentence""",
            json.dumps(FIXED),
            todo,
        ),
        # "Cancelled by <name>": the user of that name, else the message's last writer (who cancelled it).
        SQL(
            """UPDATE collections_message m SET blocked_code = 'cancelled_by',
                      blocked_args = jsonb_build_object('user_id', COALESCE(
                          (SELECT u.id FROM res_users u JOIN res_partner p ON p.id = u.partner_id
                            WHERE p.name = substring(m.blocked_reason FROM '^(?:Cancelled by|Cancelado por) (.*)$')
                            ORDER BY u.id LIMIT 1),
                          m.write_uid))
                WHERE %s AND m.blocked_reason ~ '^(Cancelled by|Cancelado por) '""",
            todo,
        ),
        # "No active <channel> provider for <company>" (only ever stored in English).
        SQL(
            """UPDATE collections_message m SET blocked_code = 'no_provider',
                      blocked_args = jsonb_build_object('channel', m.channel, 'company_id', m.company_id)
                WHERE %s AND m.blocked_reason ~ '^No active .* provider for '""",
            todo,
        ),
        # "<rules>: no consent for this channel".
        SQL(
            """UPDATE collections_message m SET blocked_code = 'no_consent',
                      blocked_args = jsonb_build_object('rule_set_id', r.rule_set_id)
                 FROM collections_message m2 LEFT JOIN %s r ON r.message_id = m2.id
                WHERE m2.id = m.id AND %s
                  AND m.blocked_reason ~ ': (no consent for this channel|sin consentimiento para este canal)$'""",
            last_refusal,
            todo,
        ),
        # "<rules>: <refusal label>".
        SQL(
            """UPDATE collections_message m SET blocked_code = 'contact_rules',
                      blocked_args = jsonb_build_object('rule_set_id', r.rule_set_id, 'refusal', f.code)
                 FROM jsonb_each_text(%s::jsonb) AS f(label, code), collections_message m2
                 LEFT JOIN %s r ON r.message_id = m2.id
                WHERE m2.id = m.id AND %s AND right(m.blocked_reason, length(f.label) + 2) = ': ' || f.label""",
            json.dumps(REFUSALS),
            last_refusal,
            todo,
        ),
        # A number phone_validation refused, or WhatsApp's "not a valid phone number" (no number said).
        SQL(
            """UPDATE collections_message m SET blocked_code = 'invalid_phone',
                      blocked_args = jsonb_build_object('number', COALESCE(substring(m.blocked_reason FROM %s), ''))
                WHERE %s AND (m.blocked_reason ~ %s OR m.blocked_reason IN (
                      'The number is not a valid phone number', 'El número no es un número de teléfono válido'))""",
            INVALID_PHONE,
            todo,
            INVALID_PHONE,
        ),
        SQL(
            """UPDATE collections_message m SET blocked_code = 'whatsapp_unreachable',
                      blocked_args = jsonb_build_object(
                          'number', substring(m.blocked_reason FROM %s),
                          'reason', substring(m.blocked_reason FROM ': ([^:]*)$'))
                WHERE %s AND m.blocked_reason ~ %s""",
            "^(?:WhatsApp cannot reach|WhatsApp no puede llegar a) (.*): [^:]*$",
            todo,
            "^(WhatsApp cannot reach|WhatsApp no puede llegar a) .*: ",
        ),
        SQL(
            """UPDATE collections_message m SET blocked_code = 'whatsapp_no_template',
                      blocked_args = jsonb_build_object('lang', substring(m.blocked_reason FROM %s))
                WHERE %s AND m.blocked_reason ~ %s""",
            "^No approved Utility WhatsApp template in (.*) for this stage",
            todo,
            "^No approved Utility WhatsApp template in .* for this stage",
        ),
        # Anything else: shown as it was written rather than not at all.
        SQL(
            """UPDATE collections_message m SET blocked_code = 'legacy',
                      blocked_args = jsonb_build_object('text', m.blocked_reason)
                WHERE %s""",
            todo,
        ),
    ]
    mapped = 0
    for update in updates:
        cr.execute(update)
        mapped += cr.rowcount
    _logger.info("Collections: %s message reasons stored as sentences now have their codes", mapped)
    return mapped

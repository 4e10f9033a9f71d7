"""A stopped WhatsApp account's reason stored as a sentence before 18.0.1.0.1
becomes Meta's code and words.

Until then ``collections_whatsapp_account.stopped_reason`` held "Stopped by
Meta's error CODE: MESSAGE" in the language of whoever ran the job (English or
Spanish); now the account stores ``stopped`` + ``stopped_code`` +
``stopped_message`` and the sentence is rendered for its reader. One UPDATE per
language; a sentence neither matches keeps its whole text as Meta's message.
The old column stays, so nothing is lost and a second run changes nothing.
"""

from odoo.tools import SQL

# The old sentences, frozen here on purpose (the label may change; what was stored does not).
PATTERNS = (
    r"^Stopped by Meta's error (.*?): (.*)$",
    r"^Detenida por el error (.*?) de Meta: (.*)$",
)


def map_stopped_reasons(cr):
    """Old sentences -> code and message; returns how many accounts were mapped."""
    cr.execute(
        "SELECT 1 FROM information_schema.columns"
        " WHERE table_name = 'collections_whatsapp_account' AND column_name = 'stopped_reason'"
    )
    if not cr.fetchone():
        return 0
    mapped = 0
    for pattern in PATTERNS:
        cr.execute(
            SQL(
                """
                UPDATE collections_whatsapp_account
                   SET stopped = TRUE,
                       stopped_code = NULLIF((regexp_match(stopped_reason, %(pattern)s, 's'))[1], ''),
                       stopped_message = (regexp_match(stopped_reason, %(pattern)s, 's'))[2]
                 WHERE stopped_reason IS NOT NULL AND stopped_reason != '' AND NOT COALESCE(stopped, FALSE)
                   AND stopped_reason ~ %(pattern)s
                """,
                pattern=pattern,
            )
        )
        mapped += cr.rowcount
    cr.execute(
        """
        UPDATE collections_whatsapp_account
           SET stopped = TRUE, stopped_message = stopped_reason
         WHERE stopped_reason IS NOT NULL AND stopped_reason != '' AND NOT COALESCE(stopped, FALSE)
        """
    )
    return mapped + cr.rowcount


def migrate(cr, version):
    map_stopped_reasons(cr)

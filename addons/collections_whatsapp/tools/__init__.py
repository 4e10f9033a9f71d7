"""Plain Python (requests and phonenumbers only, no Odoo import): the Graph API
client, webhook signature and payload parsing, phone numbers and the local
Graph API emulator. The Odoo addon imports them; workers load this folder as a
stand-alone package (see :mod:`.loader`)."""

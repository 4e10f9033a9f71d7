"""Celery workers of the collections suite: plain Python, importable without
Odoo. They send outbox messages through provider clients and report results
to Odoo over JSON-RPC (odoorpc)."""

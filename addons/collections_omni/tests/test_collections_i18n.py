import os

import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

ADDONS = ("collections_omni", "collections_portal", "collections_whatsapp")


@tagged("at_install", "-post_install")
class TestCollectionsI18n(TransactionCase):
    def test_every_term_has_a_spanish_translation(self):
        """i18n/es.po grows with every user-facing string (scripts/i18n merges new terms)."""
        installed = self.env["ir.module.module"].search([("name", "in", ADDONS), ("state", "=", "installed")])
        self.assertIn("collections_omni", installed.mapped("name"))
        for addon in installed.mapped("name"):
            po_path = os.path.join(get_module_path(addon), "i18n", "es.po")
            translated = {entry.msgid for entry in polib.pofile(po_path) if entry.msgstr}
            terms = {row[4] for row in TranslationModuleReader(self.env.cr, modules=[addon]) if row[4]}
            missing = sorted(terms - translated)
            self.assertFalse(
                missing, f"{addon}/i18n/es.po lacks {len(missing)} terms (run scripts/i18n): {missing[:10]}"
            )

    def test_every_term_is_referenced_where_odoo_looks_for_it(self):
        """A msgid alone is not enough: Odoo applies a field's, selection's or
        view's translation through the entry's reference (its xmlid), and a
        Python string's through the entry's ``odoo-python`` comment; without
        them a Spanish reader sees the English label (as the A/B test and risk
        score's fields did)."""
        installed = self.env["ir.module.module"].search([("name", "in", ADDONS), ("state", "=", "installed")])
        for addon in installed.mapped("name"):
            po_path = os.path.join(get_module_path(addon), "i18n", "es.po")
            entries = {entry.msgid: entry for entry in polib.pofile(po_path) if entry.msgstr}
            missing = []
            for _module, ttype, name, res_id, source, _value, comments in TranslationModuleReader(
                self.env.cr, modules=[addon]
            ):
                entry = entries.get(source)
                if not source or not entry:
                    continue  # test_every_term_has_a_spanish_translation says so
                reference = f"{ttype}:{name}:{res_id}"
                # A reference with whitespace (the tab delimiter's selection value) cannot be written in a .po.
                if ttype in ("model", "model_terms") and not any(char.isspace() for char in reference):
                    if reference not in {occurrence for occurrence, _line in entry.occurrences}:
                        missing.append(reference)
                for kind in ("odoo-python", "odoo-javascript"):
                    if kind in comments and kind not in entry.comment:
                        missing.append(f"{kind}: {source}")
            self.assertFalse(
                missing, f"{addon}/i18n/es.po misses {len(missing)} references (run scripts/i18n): {missing[:5]}"
            )

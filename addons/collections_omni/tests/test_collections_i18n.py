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

    def test_every_record_term_is_tied_to_its_record(self):
        """Field labels, selections, views, actions and menus are translated only through the
        reference line (``#: model:...``) of their es.po entry: a msgid added by hand without it
        stays English on screen."""
        installed = self.env["ir.module.module"].search([("name", "in", ADDONS), ("state", "=", "installed")])
        for addon in installed.mapped("name"):
            po_path = os.path.join(get_module_path(addon), "i18n", "es.po")
            places = {}
            for entry in polib.pofile(po_path):
                if entry.msgstr:
                    places.setdefault(entry.msgid, set()).update(where for where, _line in entry.occurrences)
            missing = sorted(
                f"{ttype}:{name}:{res_id}"
                for _module, ttype, name, res_id, source, *_rest in TranslationModuleReader(
                    self.env.cr, modules=[addon]
                )
                if ttype in ("model", "model_terms")
                and source
                and f"{ttype}:{name}:{res_id}" not in places.get(source, ())
            )
            self.assertFalse(
                missing, f"{addon}/i18n/es.po: {len(missing)} record terms untied (run scripts/i18n): {missing[:10]}"
            )

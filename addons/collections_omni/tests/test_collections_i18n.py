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

    def test_the_pot_holds_every_term_where_odoo_finds_it(self):
        """Odoo loads es.po merged with the addon's .pot and keeps only the .pot's entries and places
        (``PoFileReader``): a term missing from a stale .pot shows in English however well es.po
        translates it. The .pot must be what Odoo exports today (scripts/i18n)."""
        installed = self.env["ir.module.module"].search([("name", "in", ADDONS), ("state", "=", "installed")])
        for addon in installed.mapped("name"):
            pot = polib.pofile(os.path.join(get_module_path(addon), "i18n", f"{addon}.pot"))
            in_pot = {(entry.msgid, place) for entry in pot for place, _line in entry.occurrences}
            exported = {
                (src, f"{kind}:{name}:{res_id}")
                for _module, kind, name, res_id, src, _value, _comments in TranslationModuleReader(
                    self.env.cr, modules=[addon]
                )
                # A place with a space in it (the "\t" delimiter choice) cannot be written in a .po at all.
                if src and kind in ("model", "model_terms") and not any(c.isspace() for c in str(res_id))
            }
            missing = sorted(exported - in_pot)
            self.assertFalse(
                missing, f"{addon}/i18n/{addon}.pot lacks {len(missing)} places (run scripts/i18n): {missing[:5]}"
            )
            pot_terms = {entry.msgid for entry in pot}
            code_terms = {
                src for _m, kind, _n, _r, src, _v, _c in TranslationModuleReader(self.env.cr, modules=[addon]) if src
            }
            self.assertFalse(
                sorted(code_terms - pot_terms)[:5], f"{addon}/i18n/{addon}.pot lacks terms (run scripts/i18n)"
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

from odoo.tests import TransactionCase, tagged

ADDONS = ("collections_omni", "collections_portal", "collections_whatsapp")


@tagged("post_install", "-at_install")
class TestEveryModelHasItsCompany(TransactionCase):
    """Issue 19: every stored collections model carries its company with a
    record rule, or says in its docstring why it is shared."""

    def test_every_model_is_restricted_to_its_company_or_says_why_not(self):
        models = self.env["ir.model"].search([("model", "=like", "collections.%")])
        models = models.filtered(lambda m: set(m.modules.split(", ")) & set(ADDONS))
        self.assertGreater(len(models), 20)
        ruled = set(self.env["ir.rule"].sudo().search([("model_id", "in", models.ids)]).model_id.mapped("model"))
        for model in models:
            Model = self.env[model.model]
            if Model._transient or Model._abstract:
                continue  # a wizard is its user's own; a mixin has no records
            with self.subTest(model=model.model):
                doc = " ".join(
                    cls.__doc__ or "" for cls in type(Model).__mro__ if cls.__dict__.get("_name") == model.model
                )
                self.assertTrue(
                    model.model in ruled or "shared" in doc.lower(),
                    f"{model.model} has no record rule and its docstring does not say why it is shared",
                )

from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install", "collections_http")
class TestCollectionsUi(HttpCase):
    def test_policy_tour(self):
        """A collections manager reaches the policies from the Accounting menu."""
        self.start_tour("/odoo", "collections_policy_tour", login="admin")

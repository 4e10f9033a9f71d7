from odoo.addons.portal.controllers.portal import CustomerPortal


class CollectionsCustomerPortal(CustomerPortal):
    """Portal routes for the customer's balance, promises and payment plans."""

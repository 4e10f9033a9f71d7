from . import (
    test_contact_preferences,
    test_hostile_input,
    test_portal_dispute,
    test_portal_formats,
    test_portal_balance,
    test_portal_links,
    test_portal_rules,
    test_portal_pay,
    test_portal_queries,
    test_portal_requests,
    test_portal_statement,
    test_portal_ui,
)

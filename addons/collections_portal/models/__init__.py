from . import (
    account_move,
    collections_dispute,
    collections_hold_mixin,
    collections_note,
    collections_payment_plan,
    collections_policy,
    collections_portal_access,
    collections_promise,
    res_partner,
)

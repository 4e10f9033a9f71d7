"""A/B tests of reminders: stable assignment and the statistics, in plain Python.

Assignment: a customer's place in a test is a number from 0 to 9,999 taken
from the MD5 of "<test id>:<partner id>"; the variants, in order, own
consecutive slices of that range as wide as their share of the traffic. The
same customer lands in the same variant for the whole test (nothing is
stored to decide it, and every run decides alike), independently from one
test to another. ``assignment_sql`` is the same rule for planning (set-based),
``assign`` for tests and tools.
"""

import hashlib
import math

from odoo.tools import SQL

BUCKETS = 10000
# z for a two-sided 95 % interval.
Z_95 = 1.959963984540054


def bucket(test_id, partner_id):
    """The customer's place in the test, 0..BUCKETS-1."""
    digest = hashlib.md5(f"{test_id}:{partner_id}".encode(), usedforsecurity=False).hexdigest()
    return int(digest[:8], 16) % BUCKETS


def slices(shares):
    """Upper bounds (exclusive) of each variant's slice, from shares in percent."""
    bounds, total = [], 0
    for share in shares:
        total += round(share * BUCKETS / 100)
        bounds.append(total)
    return bounds


def assign(test_id, partner_id, variants):
    """:param list variants: (variant, share in percent) in order; the variant of a customer
    (None when the shares leave the customer's place uncovered)."""
    place = bucket(test_id, partner_id)
    for (variant, _share), upper in zip(variants, slices([share for _v, share in variants]), strict=True):
        if place < upper:
            return variant
    return None


def bucket_sql(test_sql, partner_sql):
    """bucket() in PostgreSQL: the first 32 bits of the MD5, modulo BUCKETS."""
    return SQL(
        "mod(('x' || substr(md5(%s::text || ':' || %s::text), 1, 8))::bit(32)::bigint, %s)",
        test_sql,
        partner_sql,
        BUCKETS,
    )


def assignment_sql(action_sql, partner_sql):
    """LATERAL subquery: the variant of the running test of a stage action a
    customer falls in (assign(), set-based); columns variant_id, channel,
    time_of_day (NULL when the variant keeps the action's)."""
    return SQL(
        """LATERAL (
            SELECT v.id AS variant_id, v.channel, NULLIF(v.time_of_day, 0) AS time_of_day
              FROM (SELECT v.id, v.test_id, v.channel, v.time_of_day,
                           sum(round(v.share * %(buckets)s / 100)) OVER (ORDER BY v.sequence, v.id) AS upper_bound
                      FROM collections_ab_variant v
                      JOIN collections_ab_test t ON t.id = v.test_id
                     WHERE t.action_id = %(action)s AND t.state = 'running') v
             WHERE %(bucket)s < v.upper_bound
          ORDER BY v.upper_bound LIMIT 1)""",
        buckets=BUCKETS,
        action=action_sql,
        bucket=bucket_sql(SQL("v.test_id"), partner_sql),
    )


# --- statistics --------------------------------------------------------------------
def wilson_interval(successes, trials, z=Z_95):
    """Wilson score interval of a proportion; (0, 0) without trials."""
    if not trials:
        return 0.0, 0.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def normal_interval(successes, trials, z=Z_95):
    """Normal-approximation (Wald) interval of a proportion, clipped to [0, 1]."""
    if not trials:
        return 0.0, 0.0
    p = successes / trials
    half = z * math.sqrt(p * (1 - p) / trials)
    return max(0.0, p - half), min(1.0, p + half)


def two_proportion_z_test(successes_a, trials_a, successes_b, trials_b):
    """Two-sided two-proportion z-test with the pooled proportion: (z, p-value).
    (0, 1) when it cannot be computed (no trials, or no variation at all)."""
    if not trials_a or not trials_b:
        return 0.0, 1.0
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b))
    if se == 0:
        return 0.0, 1.0
    z = (successes_b / trials_b - successes_a / trials_a) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def winner(results, min_sample, alpha=0.05):
    """The variant to promote, or None: every variant has reached ``min_sample``
    customers, and the best converting one beats each other one with p < alpha.

    :param list results: (variant, successes, trials)"""
    if len(results) < 2 or any(trials < min_sample for _v, _s, trials in results):
        return None
    best = max(results, key=lambda row: row[1] / row[2] if row[2] else 0.0)
    for other in results:
        if other is best:
            continue
        _z, p_value = two_proportion_z_test(other[1], other[2], best[1], best[2])
        if p_value >= alpha or best[1] / best[2] <= other[1] / other[2]:
            return None
    return best[0]

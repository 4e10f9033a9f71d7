"""The contact-rate engine (tools/contact_rules.py): property tests with
hypothesis against an independent brute-force verifier, daylight-saving and
holiday edge cases, and the presets' worked examples."""

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import BaseCase, tagged

from ..tools.contact_rules import ANY_CHANNEL, Contact, Limit, RuleSet, Window, check, next_allowed, next_preferred

UTC = dt.timezone.utc
BASE = dt.datetime(2026, 3, 1, tzinfo=UTC)  # spans the US (Mar 8) and EU (Mar 29) spring-forward changes
CHANNELS = ["email", "sms", "call", "whatsapp"]
ZONES = ["UTC", "America/New_York", "Europe/Madrid", "America/Bogota", "America/Mexico_City", "Australia/Lord_Howe"]


def brute_force_violations(rules, history, tz, holidays):
    """What is wrong with a history, checked the plain way: every contact
    against every rule, with no shortcut shared with the engine."""
    zone = ZoneInfo(tz)
    problems = []
    ordered = sorted(history, key=lambda c: c.at)
    counted = [c for c in ordered if c.effective or not rules.effective_only]
    for index, contact in enumerate(ordered):
        local = contact.at.astimezone(zone)
        minute = local.hour * 60 + local.minute
        windows = [w for w in rules.windows if w.channel in (ANY_CHANNEL, contact.channel)]
        if windows and not any(w.weekday == local.weekday() and w.start <= minute < w.end for w in windows):
            problems.append(("hours", contact))
        if rules.no_holidays and local.date() in holidays:
            problems.append(("holiday", contact))
        if index and rules.min_gap_hours:
            if contact.at - ordered[index - 1].at < dt.timedelta(hours=rules.min_gap_hours):
                problems.append(("gap", contact))
        if rules.conversation_cooldown_days and contact.channel == "call":
            for earlier in ordered[:index]:
                if earlier.conversation and earlier.channel == "call":
                    if contact.at - earlier.at < dt.timedelta(days=rules.conversation_cooldown_days):
                        problems.append(("cooldown", contact))
        for limit in rules.limits:
            window = [
                c
                for c in counted
                if contact.at - dt.timedelta(days=limit.days) < c.at <= contact.at
                and limit.channel in (ANY_CHANNEL, c.channel)
            ]
            if len(window) > limit.count:
                problems.append(("limit", contact))
        for count, days in rules.max_channels:
            window = [c for c in counted if contact.at - dt.timedelta(days=days) < c.at <= contact.at]
            if len({c.channel for c in window}) > count:
                problems.append(("channels", contact))
    return problems


@st.composite
def rule_sets(draw):
    limits = tuple(
        Limit(
            draw(st.integers(1, 8)), draw(st.sampled_from([1, 2, 7])), draw(st.sampled_from([ANY_CHANNEL, *CHANNELS]))
        )
        for _ in range(draw(st.integers(0, 3)))
    )
    windows = ()
    if draw(st.booleans()):
        start = draw(st.integers(0, 20)) * 60
        end = draw(st.integers(start // 60 + 1, 24)) * 60
        days = draw(st.sets(st.integers(0, 6), min_size=1))
        channel = draw(st.sampled_from([ANY_CHANNEL, "call", "sms"]))
        windows = tuple(Window(day, start, end, channel) for day in sorted(days))
    return RuleSet(
        limits=limits,
        max_channels=tuple([(draw(st.integers(1, 2)), 7)]) if draw(st.booleans()) else (),
        min_gap_hours=draw(st.sampled_from([0, 0, 4, 24])),
        windows=windows,
        no_holidays=draw(st.booleans()),
        conversation_cooldown_days=draw(st.sampled_from([0, 7])),
        effective_only=draw(st.booleans()),
    )


attempts = st.lists(
    st.tuples(
        st.integers(0, 40 * 24 * 60),  # minutes after BASE
        st.sampled_from(CHANNELS),
        st.booleans(),  # effective
        st.booleans(),  # conversation
    ),
    max_size=40,
)


@tagged("at_install", "-post_install")
class TestContactRules(BaseCase):
    @settings(
        max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(rules=rule_sets(), tries=attempts, tz=st.sampled_from(ZONES), holiday_days=st.sets(st.integers(0, 40)))
    def test_no_sequence_of_attempts_ever_breaks_a_rule(self, rules, tries, tz, holiday_days):
        holidays = {(BASE + dt.timedelta(days=d)).date() for d in holiday_days}
        history = []
        for minutes, channel, effective, conversation in sorted(tries):
            at = BASE + dt.timedelta(minutes=minutes)
            if check(rules, history, at, channel, tz, holidays).allowed:
                history.append(Contact(at, channel, effective, conversation and channel == "call"))
        self.assertEqual(brute_force_violations(rules, history, tz, holidays), [])

    @settings(
        max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(rules=rule_sets(), tries=attempts, tz=st.sampled_from(ZONES), minutes=st.integers(0, 40 * 24 * 60))
    def test_next_allowed_moment_is_allowed(self, rules, tries, tz, minutes):
        history = [Contact(BASE + dt.timedelta(minutes=m), c, e, v and c == "call") for m, c, e, v in tries]
        history = [c for c in history if not brute_force_violations(rules, [c], tz, set())]
        at = BASE + dt.timedelta(minutes=minutes)
        moment = next_allowed(rules, history, at, "call", tz)
        if moment is not None:
            self.assertGreaterEqual(moment, at)
            self.assertTrue(check(rules, history, moment, "call", tz).allowed)
            if moment > at + dt.timedelta(minutes=1):
                self.assertFalse(check(rules, history, at, "call", tz).allowed)

    @settings(
        max_examples=200, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(
        rules=rule_sets(),
        tries=attempts,
        tz=st.sampled_from(ZONES),
        minutes=st.integers(0, 40 * 24 * 60),
        start_hour=st.integers(0, 22),
        hours=st.integers(1, 10),
    )
    def test_preferred_moment_is_allowed_and_preferred(self, rules, tries, tz, minutes, start_hour, hours):
        """A customer's preferred hours only ever postpone a contact to a moment the rules allow."""
        history = [Contact(BASE + dt.timedelta(minutes=m), c, e, v and c == "call") for m, c, e, v in tries]
        history = [c for c in history if not brute_force_violations(rules, [c], tz, set())]
        at = BASE + dt.timedelta(minutes=minutes)
        preferred = (start_hour * 60, min(24, start_hour + hours) * 60)
        moment = next_preferred(rules, history, at, "sms", preferred, tz)
        if moment is not None:
            self.assertGreaterEqual(moment, at)
            self.assertTrue(check(rules, history, moment, "sms", tz).allowed)
            local = moment.astimezone(ZoneInfo(tz))
            self.assertTrue(preferred[0] <= local.hour * 60 + local.minute < preferred[1])

    def test_preferred_hours_inside_the_legal_window(self):
        """Allowed 08:00-21:00, preferred 18:00-20:00 in Madrid: a 10:00 attempt waits until 18:00."""
        rules = RuleSet(windows=tuple(Window(day, 8 * 60, 21 * 60) for day in range(7)))
        at = dt.datetime(2026, 6, 16, 8, 0, tzinfo=UTC)  # 10:00 in Madrid (CEST)
        moment = next_preferred(rules, [], at, "sms", (18 * 60, 20 * 60), "Europe/Madrid")
        self.assertEqual(moment, dt.datetime(2026, 6, 16, 16, 0, tzinfo=UTC))
        # Preferred hours the law never allows: no preferred moment (the caller keeps the legal one).
        self.assertIsNone(next_preferred(rules, [], at, "sms", (22 * 60, 23 * 60), "Europe/Madrid"))

    def test_local_hours_across_daylight_saving(self):
        """08:00-21:00 local in New York: 12:30 UTC is 07:30 before the change
        (EST) and 08:30 after it (EDT)."""
        rules = RuleSet(windows=tuple(Window(day, 8 * 60, 21 * 60) for day in range(7)))
        before = dt.datetime(2026, 3, 6, 12, 30, tzinfo=UTC)
        after = dt.datetime(2026, 3, 9, 12, 30, tzinfo=UTC)
        self.assertFalse(check(rules, [], before, "call", "America/New_York").allowed)
        self.assertTrue(check(rules, [], after, "call", "America/New_York").allowed)
        retry = next_allowed(rules, [], before, "call", "America/New_York")
        self.assertEqual(retry, dt.datetime(2026, 3, 6, 13, 0, tzinfo=UTC))  # 08:00 EST

    def test_window_opening_inside_the_spring_forward_gap(self):
        """A 02:30 opening does not exist in Madrid on 29 March 2026 (02:00 -> 03:00):
        the contact waits for the first real minute of the window."""
        rules = RuleSet(windows=(Window(6, 2 * 60 + 30, 5 * 60),))  # Sundays 02:30-05:00
        at = dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # Sunday 00:00 local
        moment = next_allowed(rules, [], at, "email", "Europe/Madrid")
        self.assertEqual(moment.astimezone(ZoneInfo("Europe/Madrid")).strftime("%H:%M"), "03:30")
        self.assertTrue(check(rules, [], moment, "email", "Europe/Madrid").allowed)

    def test_holiday_moves_to_the_next_day(self):
        rules = RuleSet(no_holidays=True)
        holiday = dt.date(2026, 12, 25)
        at = dt.datetime(2026, 12, 25, 15, 0, tzinfo=UTC)
        decision = check(rules, [], at, "sms", "Europe/Madrid", {holiday})
        self.assertEqual(decision.reason, "holiday")
        moment = next_allowed(rules, [], at, "sms", "Europe/Madrid", {holiday})
        self.assertEqual(moment.astimezone(ZoneInfo("Europe/Madrid")).date(), dt.date(2026, 12, 26))

    def test_naive_times_are_refused(self):
        with self.assertRaises(ValueError):
            check(RuleSet(), [], dt.datetime(2026, 1, 1, 12, 0), "email")

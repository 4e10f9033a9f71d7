"""Contact-rate rules: may this customer be contacted on this channel now, and
if not, when?

Plain Python on plain data (no Odoo import), so the Odoo dispatcher and the
Celery workers decide with the same code. :func:`check` is the single source
of truth; :func:`next_allowed` only proposes later moments and confirms each
with :func:`check`.

Times are timezone-aware datetimes; hours and weekdays are judged in the
customer's own time zone (``zoneinfo``, so daylight-saving changes count).
"""

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

ANY_CHANNEL = "any"
UTC = dt.timezone.utc


@dataclass(frozen=True)
class Window:
    """Contact allowed on ``weekday`` (0 = Monday) from ``start`` to ``end``
    minutes after local midnight (``end`` excluded), on ``channel`` (or all).
    A channel with no window of its own (and no window for all channels) may
    be used at any hour."""

    weekday: int
    start: int
    end: int
    channel: str = ANY_CHANNEL


@dataclass(frozen=True)
class Limit:
    """At most ``count`` contacts in any ``days`` rolling days, on ``channel``
    (or on all channels together with ``ANY_CHANNEL``)."""

    count: int
    days: float
    channel: str = ANY_CHANNEL


@dataclass(frozen=True)
class RuleSet:
    limits: tuple = ()
    max_channels: tuple = ()  # (count, days): distinct channels in any rolling window
    min_gap_hours: float = 0.0
    windows: tuple = ()  # empty: any hour of any day
    no_holidays: bool = False
    conversation_cooldown_days: float = 0.0  # no call for N days after a call that reached the person
    effective_only: bool = False  # count only contacts that reached the person
    name: str = ""


@dataclass(frozen=True)
class Contact:
    at: dt.datetime
    channel: str
    effective: bool = True
    conversation: bool = False


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    retry_at: dt.datetime | None = None  # earliest moment this rule alone could allow it
    rule: str = field(default="", compare=False)


def _counted(rules, history):
    return [c for c in history if c.effective or not rules.effective_only]


def check(rules, history, at, channel, tz="UTC", holidays=frozenset()):
    """Decide one attempt.

    :param RuleSet rules: the rules in force
    :param list history: earlier :class:`Contact` (any order)
    :param datetime at: when the contact would happen (aware)
    :param str channel: email, sms, whatsapp, letter, call...
    :param str tz: the customer's IANA time zone
    :param holidays: local dates on which no contact is allowed (if the rules say so)
    :return: the first rule that forbids it, or an allowed :class:`Decision`
    """
    if at.tzinfo is None:
        raise ValueError("contact times must be timezone-aware")
    zone = ZoneInfo(tz)
    local = at.astimezone(zone)
    past = [c for c in history if c.at <= at]

    if rules.no_holidays and local.date() in holidays:
        return Decision(False, "holiday", _next_local_midnight(local, zone), "no_holidays")
    windows = [w for w in rules.windows if w.channel in (ANY_CHANNEL, channel)]
    if windows and not _in_windows(windows, local):
        return Decision(False, "outside_hours", _next_window_start(windows, local, zone), "windows")

    if rules.min_gap_hours and past:
        last = max(c.at for c in past)
        ready = last + dt.timedelta(hours=rules.min_gap_hours)
        if at < ready:
            return Decision(False, "min_gap", ready, "min_gap_hours")

    if rules.conversation_cooldown_days and channel == "call":
        talks = [c.at for c in past if c.conversation and c.channel == "call"]
        if talks:
            ready = max(talks) + dt.timedelta(days=rules.conversation_cooldown_days)
            if at < ready:
                return Decision(False, "after_conversation", ready, "conversation_cooldown_days")

    counted = _counted(rules, past)
    for limit in rules.limits:
        if limit.channel not in (ANY_CHANNEL, channel):
            continue
        since = at - dt.timedelta(days=limit.days)
        in_window = sorted(c.at for c in counted if c.at > since and limit.channel in (ANY_CHANNEL, c.channel))
        if len(in_window) + 1 > limit.count:
            # allowed again once enough of them leave the window
            ready = in_window[len(in_window) - limit.count] + dt.timedelta(days=limit.days)
            return Decision(False, "frequency", ready, f"limit {limit.count}/{limit.days}d {limit.channel}")

    for count, days in rules.max_channels:
        since = at - dt.timedelta(days=days)
        recent = [c for c in counted if c.at > since]
        channels = {c.channel for c in recent}
        if channel not in channels and len(channels) + 1 > count:
            ready = max(c.at for c in recent) + dt.timedelta(days=days)
            return Decision(False, "channels", ready, f"channels {count}/{days}d")
    return Decision(True)


def next_allowed(rules, history, at, channel, tz="UTC", holidays=frozenset(), horizon_days=60):
    """The earliest moment at or after ``at`` (to the minute) when :func:`check`
    allows the contact, or ``None`` if there is none within the horizon."""
    limit = at + dt.timedelta(days=horizon_days)
    candidate = at
    for _attempt in range(10000):
        if candidate > limit:
            return None
        decision = check(rules, history, candidate, channel, tz, holidays)
        if decision.allowed:
            return candidate
        retry = decision.retry_at or candidate + dt.timedelta(minutes=1)
        # Rolling windows free up just after the instant computed; step a second past it.
        candidate = max(retry, candidate + dt.timedelta(seconds=1))
        if decision.reason in ("frequency", "channels", "min_gap", "after_conversation"):
            candidate += dt.timedelta(seconds=1)
    return None


def next_preferred(rules, history, at, channel, preferred, tz="UTC", holidays=frozenset(), horizon_days=14):
    """The earliest moment at or after ``at`` that the rules allow *and* that
    falls within the customer's preferred hours ``preferred`` = (start, end)
    minutes after local midnight, every day; ``None`` if there is none within
    the horizon (a preference never makes a contact impossible: the caller
    then falls back to :func:`next_allowed`)."""
    zone = ZoneInfo(tz)
    preferred_windows = tuple(Window(day, preferred[0], preferred[1]) for day in range(7))
    limit = at + dt.timedelta(days=horizon_days)
    candidate = at
    for _attempt in range(1000):
        if candidate > limit:
            return None
        decision = check(rules, history, candidate, channel, tz, holidays)
        if not decision.allowed:
            later = next_allowed(rules, history, candidate, channel, tz, holidays, horizon_days)
            if later is None:
                return None
            candidate = later
            continue
        local = candidate.astimezone(zone)
        if _in_windows(preferred_windows, local):
            return candidate
        candidate = _next_window_start(preferred_windows, local, zone)
    return None


def violations(rules, history, tz="UTC", holidays=frozenset()):
    """Every contact in ``history`` that the rules would have forbidden, given
    the contacts before it: an audit of what actually happened."""
    ordered = sorted(history, key=lambda c: c.at)
    found = []
    for index, contact in enumerate(ordered):
        decision = check(rules, ordered[:index], contact.at, contact.channel, tz, holidays)
        if not decision.allowed:
            found.append((contact, decision.reason))
    return found


def _in_windows(windows, local):
    minute = local.hour * 60 + local.minute
    return any(w.weekday == local.weekday() and w.start <= minute < w.end for w in windows)


def _next_local_midnight(local, zone):
    day = local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=zone).astimezone(UTC)


def _next_window_start(windows, local, zone):
    """The next window opening after ``local``, in UTC; a window whose start
    does not exist that day (spring forward) opens at the first valid minute."""
    minute = local.hour * 60 + local.minute
    for offset in range(0, 8):
        day = local.date() + dt.timedelta(days=offset)
        starts = sorted(w.start for w in windows if w.weekday == day.weekday() and (offset > 0 or w.start > minute))
        if starts:
            hours, minutes = divmod(starts[0], 60)
            opening = dt.datetime.combine(day, dt.time(hours, minutes), tzinfo=zone)
            # zoneinfo maps a nonexistent local time to a real instant; round-tripping
            # through UTC gives the valid local time just after the gap.
            return opening.astimezone(UTC)
    return local.astimezone(UTC) + dt.timedelta(days=1)

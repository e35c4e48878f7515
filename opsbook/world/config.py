"""Parameters of a world: its size and seed, and every planted truth.

The planted truths are ordinary parameters of the behavioural model, so a
world with another seed or size carries the same effects, and the answer key
(``World.answer_key``) is written from these values plus what the run drew.

Days are day indexes of the period (0 = ``start``). Festivals are not here: they
come from the real calendar of the period (``opsbook.world.calendar``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date

from .calendar import WorldCalendar

ACCEPTED: dict[str, tuple[int, int]] = {"n_users": (5_000, 100_000), "days": (175, 366)}
"""The worlds ``opsbook world generate`` accepts, inclusive: every planted truth is detectable and every
notebook runs on all of them. Below 5,000 users the A/B tests, the hold-out lift and the per-run campaign
ROI drown in noise; 175 days keep 618 (day 168 from 1 January) and a week of data after it; 366 days keep
the world within one calendar year of festivals and the tables within a laptop's memory."""


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 2025
    n_users: int = 20_000
    days: int = 182
    start: date = date(2025, 1, 1)
    locale: str = "en_US"

    # Acquisition: the cheap channel whose users retain badly.
    poor_channel: str = "offline_promo"
    poor_channel_engagement: float = 0.30     # multiplies daily activity of its users
    campus_promo_days: tuple[int, int] = (75, 110)   # the spring 地推 push on campuses
    # Activation "aha": follow >= 3 accounts within the first 3 days (days 0-2).
    aha_follows: int = 3
    aha_days: int = 3
    aha_churn_multiplier: float = 0.35        # daily churn hazard of aha users, relative
    # A buggy release on one platform: it ships this many days before the data ends and is still
    # broken when the data ends, on every world (the capstone's problem).
    bug_platform: str = "android"
    bug_version: str = "3.2.0"
    fix_version: str = "3.2.1"
    bug_days_before_end: int = 21
    bug_activity_multiplier: float = 0.55
    bug_churn_multiplier: float = 4.0
    # Tracking outage: no events logged in [start hour, end hour) on one day.
    outage_day: int = 70                      # 2025-03-12
    outage_hours: tuple[int, int] = (9, 15)
    # Bot spike: fake accounts that sign up within an hour and flood likes.
    bot_day: int = 131                        # 2025-05-12
    bot_hour: int = 3
    bot_share: float = 0.03                   # of n_users
    bot_events: int = 120                     # mean events per bot
    # One-off campaigns on fixed days of the period (festival campaigns follow the calendar).
    check_in_days: tuple[int, int] = (40, 54)
    coupon_days: tuple[int, int] = (82, 96)
    # The coupon campaign with a real lift against its hold-out.
    coupon_lift: float = 2.2                  # multiplies purchase propensity of treated users
    coupon_holdout_share: float = 0.2
    # Bad reward claims in the invite campaign.
    duplicate_claim_share: float = 0.06       # of legitimate rewards paid twice
    ineligible_claims: int = 25               # rewards to users who never joined
    # Viral content hits.
    viral_hits: int = 5
    # A/B tests: true effects on the day 1-7 return rate, and the SRM drop.
    ab_effects: dict = field(default_factory=lambda: {"onboarding_v2": 0.60, "feed_layout": 0.0, "push_prompt": 0.0})
    experiment_windows: dict = field(default_factory=lambda: {"onboarding_v2": (14, 56), "feed_layout": (56, 87),
                                                              "push_prompt": (140, 171)})
    srm_experiment: str = "push_prompt"
    srm_drop_share: float = 0.35               # of control exposures lost by a logging bug
    # Recurring campaigns: a weekly newcomer coupon (every user targeted once) and a weekly flash
    # coupon sent to the same list of buyers (drawn up at its first run) again and again.
    recurring_holdout_share: float = 0.3
    recurring_first_day: int = 14              # the newcomer coupon's first Monday is on or after this day ...
    flash_first_day: int = 28                  # ... the flash coupon's first week starts on or after this one
    newcomer_join: float = 0.45                # daily claim probability of a targeted newcomer
    newcomer_boost: float = 0.40               # extra daily purchase rate while holding an unused coupon
    flash_join: float = 0.35                   # daily claim probability at the first send
    fatigue: float = 0.93                      # claim probability multiplier per earlier send (疲劳)
    flash_boost: float = 2.0                   # extra daily purchase rate of a first-time holder ...
    flash_boost_decay: float = 0.6             # ... which shrinks by this factor per earlier send ...
    flash_staleness: float = 0.85              # ... and by this factor per earlier run of the series (it goes stale)
    festival_response: float = 1.6             # claim probability multiplier of a run timed to a festival
    # Community groups (社群).
    group_join_base: float = 0.008             # daily join probability of an active non-member ...
    group_join_engaged: float = 0.5            # ... plus this times engagement squared (engaged users join)
    group_leave: float = 0.004                 # daily probability that a member leaves
    group_churn_multiplier: float = 0.9        # the causal effect of membership on the churn hazard
    group_invite_multiplier: float = 1.8       # members send more invites while in a group
    fast_reply_share: float = 0.5              # threads answered within an hour
    fast_reply_churn_multiplier: float = 0.3   # author's churn hazard for 30 days after a fast first answer ...
    slow_reply_churn_multiplier: float = 2.5   # ... and after a first thread answered late or never
    reply_half_life_hours: float = 6.0         # topic heat: replies per hour halve every this many hours
    core_departure_day: int = 112              # the biggest group's top poster leaves
    core_departure_drop: float = 0.6           # ... and the others' threads and replies in it fall by this share
    spam_wave_day: int = 90                    # a spam wave hits the groups for three days
    spam_wave_days: int = 3
    # Merchant leads (线索).
    lead_fast_multiplier: float = 3.0          # conversion odds when followed up within 24 hours

    @property
    def bug_start_day(self) -> int:
        """First day of the buggy release: ``bug_days_before_end`` days before the data ends."""
        return self.days - self.bug_days_before_end

    def calendar(self) -> WorldCalendar:
        return WorldCalendar(self.start, self.days)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        return d


def out_of_range(name: str, value: int) -> str | None:
    """Why ``value`` is not accepted for ``name`` (a key of ``ACCEPTED``), or None when it is."""
    lo, hi = ACCEPTED[name]
    if lo <= value <= hi:
        return None
    why = {"n_users": "smaller worlds cannot show the planted effects; larger ones outgrow a laptop",
           "days": "the period must include the 618 festival and a week after it, within one year"}[name]
    return f"{name} must be from {lo:,} to {hi:,} (got {value:,}): {why}"

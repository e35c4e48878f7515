"""Parameters of a world: its size and seed, and every planted truth.

The planted truths are ordinary parameters of the behavioural model, so a
world with another seed or size carries the same effects, and the answer key
(``World.answer_key``) is written from these values plus what the run drew.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date


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
    # Activation "aha": follow >= 3 accounts within the first 3 days (days 0-2).
    aha_follows: int = 3
    aha_days: int = 3
    aha_churn_multiplier: float = 0.35        # daily churn hazard of aha users, relative
    # A buggy release on one platform.
    bug_platform: str = "android"
    bug_version: str = "3.2.0"
    fix_version: str = "3.2.1"
    bug_start_day: int = 161                  # 2025-06-11, during the 618 run-up
    bug_days: int = 40                        # still broken when the data ends (the capstone's problem)
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
    # The coupon campaign with a real lift against its hold-out.
    coupon_lift: float = 2.2                  # multiplies purchase propensity of treated users
    coupon_holdout_share: float = 0.2
    # Bad reward claims in the invite campaign.
    duplicate_claim_share: float = 0.06       # of legitimate rewards paid twice
    ineligible_claims: int = 25               # rewards to users who never joined
    # Viral content hits.
    viral_hits: int = 5
    # A/B tests: true effects on the day 1-7 return rate, and the SRM drop.
    ab_effects: dict = field(default_factory=lambda: {"onboarding_v2": 0.30, "feed_layout": 0.0, "push_prompt": 0.0})
    srm_experiment: str = "push_prompt"
    srm_drop_share: float = 0.25               # of control exposures lost by a logging bug

    def as_dict(self) -> dict:
        d = asdict(self)
        d["start"] = self.start.isoformat()
        return d

"""The instructor's answer key: every planted truth of a world, in the words and ids of its tables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .campaigns import COUPON_VALID_DAYS, REWARDS, Campaign, sale_window
from .community import UNANSWERED_SHARE, Community
from .config import WorldConfig
from .leads import CONVERT_SLOW
from .logs import CONTENT_INFLUENCE, TOPIC_CATEGORY, RewardLog
from .model import ANSWER_EFFECT_DAYS, ONBOARDING_CHURN
from .tables import CommunityIds

GENERATOR_VERSION = "2"


@dataclass
class Planted:
    """What the run drew that the key must name: ids of rows and users."""

    bot_user_ids: np.ndarray
    viral_content_ids: list[int]
    reward_ids: np.ndarray            # reward id per row of the reward log
    rewards: RewardLog
    community: Community
    community_ids: CommunityIds
    user_id: np.ndarray               # user index -> id


def answer_key(cfg: WorldConfig, campaigns: list[Campaign], tables: dict[str, pd.DataFrame], p: Planted) -> dict:
    cal = cfg.calendar()

    def day(d: int) -> str:
        return str(cal.date(d))

    out = cfg.as_dict()
    out["ab_effects"] = dict(cfg.ab_effects)
    recurring = [c for c in campaigns if c.recurring]
    com, ids = p.community, p.community_ids
    out.update({
        "generator_version": GENERATOR_VERSION,
        "calendar": {f.key: str(f.date) for f in cal.festivals},
        "poor_channel": {"channel": cfg.poor_channel, "why": "cheapest CAC, lowest engagement and highest churn"},
        "activation": {"rule": f">= {cfg.aha_follows} follow events in days 0..{cfg.aha_days - 1} after signup",
                       "churn_multiplier": cfg.aha_churn_multiplier},
        "coupon_campaign": {"campaign_id": next(c.campaign_id for c in campaigns if c.kind == "coupon"),
                            "purchase_multiplier": cfg.coupon_lift, "holdout_share": cfg.coupon_holdout_share},
        "sale_618": {"campaign_id": next(c.campaign_id for c in campaigns if c.kind == "sale_618"),
                     "start": day(sale_window(cal)[0]), "peak": day(cal.day("618"))},
        "tracking_outage": {"start": f"{day(cfg.outage_day)} {cfg.outage_hours[0]:02d}:00:00",
                            "end": f"{day(cfg.outage_day)} {cfg.outage_hours[1]:02d}:00:00"},
        "bot_spike": {"day": day(cfg.bot_day), "hour": cfg.bot_hour, "user_ids": p.bot_user_ids.tolist()},
        "buggy_release": {"platform": cfg.bug_platform, "version": cfg.bug_version, "fixed_in": cfg.fix_version,
                          "start": day(cfg.bug_start_day), "end": day(cfg.days),
                          "days_before_end": cfg.bug_days_before_end, "fixed_within_data": False},
        "experiments": {"with_effect": "onboarding_v2", "no_effect": "feed_layout",
                        "sample_ratio_mismatch": cfg.srm_experiment,
                        "effect": {"first_week_activity_multiplier": 1 + cfg.ab_effects["onboarding_v2"],
                                   "first_week_churn_multiplier": ONBOARDING_CHURN},
                        "srm_control_exposures_lost": cfg.srm_drop_share},
        "bad_reward_claims": {
            "duplicate_reward_ids": sorted(p.reward_ids[p.rewards.duplicate_rows].tolist()),
            "ineligible_reward_ids": sorted(p.reward_ids[p.rewards.ineligible_rows].tolist()),
        },
        "viral_content_ids": p.viral_content_ids,
        "viral_traits": "UGC short videos, most posted 19:00-23:00, with a high share rate in their first week",
        "recurring_campaigns": _recurring(cfg, recurring),
        "community": _community(cfg, tables, com, ids, p.user_id),
        "leads": _LEADS | {"fast_conversion_multiplier": cfg.lead_fast_multiplier},
        "privacy": _PRIVACY,
        "content_to_purchase": _CONTENT_TO_PURCHASE,
        "row_counts": {name: int(len(df)) for name, df in tables.items()},
    })
    return out


def _recurring(cfg: WorldConfig, recurring: list[Campaign]) -> dict:
    """The two recurring series: which to make routine, which decays, fatigue and festival timing."""
    return {
        "routine_candidate": {"campaign_type": "newcomer_coupon",
                              "why": "every user is targeted once, so the response and the ROI stay stable "
                                     "run after run: make it routine (常规化)"},
        "decaying": {"campaign_type": "flash_coupon",
                     "why": "the same recent buyers are targeted every week: fatigue lowers the response and "
                            "the incremental effect of those who still claim, so the ROI falls run after run"},
        "fatigue": {"claim_multiplier_per_earlier_send": cfg.fatigue,
                    "purchase_boost_multiplier_per_earlier_send": cfg.flash_boost_decay,
                    "earlier_sends": "treatment rows of the user in campaign_targets of campaigns that started "
                                     "earlier (any targeted campaign)"},
        "festival_timing": {"claim_multiplier": cfg.festival_response,
                            "festival_campaign_ids": [c.campaign_id for c in recurring if c.festival],
                            "festivals": {str(c.campaign_id): c.festival for c in recurring if c.festival}},
        "holdout_share": cfg.recurring_holdout_share,
        "coupon_values": {k: REWARDS[k].amount for k in COUPON_VALID_DAYS},
        "valid_days": dict(COUPON_VALID_DAYS),
    }


_LEADS = {"fast_followup_hours": 24, "slow_conversion_by_tier": dict(CONVERT_SLOW), "best_tier": "A",
          "cleaning": "duplicate = same contact_phone as an earlier lead; invalid_contact = not an 11-digit number "
                      "starting with 1 (or all zeros)"}
_PRIVACY = {"direct_identifiers": {"users": ["name", "phone", "email", "device_id"],
                                   "leads": ["company", "contact_phone"]},
            "quasi_identifiers": {"users": ["gender", "age", "city", "signup_time"]},
            "already_masked": {"invites": ["invitee_contact"]},
            "linkable": "invites.invitee_contact of a signed-up invitee is their users.phone masked to first 3 + "
                        "last 4 digits"}
_CONTENT_TO_PURCHASE = {"share_of_orders_following_last_viewed_topic": CONTENT_INFLUENCE,
                        "topic_to_category": dict(TOPIC_CATEGORY),
                        "rule": "the last view_content event of the buyer on the order's day, before the order"}


def _community(cfg: WorldConfig, tables: dict[str, pd.DataFrame], com: Community, ids: CommunityIds,
               user_id: np.ndarray) -> dict:
    members = tables["group_members"]["user_id"].unique()
    creators = set(tables["threads"]["author_id"])
    repliers = set(tables["replies"]["user_id"]) - creators
    n = len(members)

    def share(users: set) -> float:
        return round(len(users & set(members)) / n, 4) if n else float("nan")

    wave_lo, wave_hi = cfg.spam_wave_day, cfg.spam_wave_day + cfg.spam_wave_days
    cal = cfg.calendar()
    return {
        "participation_pyramid": {"creators": share(creators), "repliers_only": share(repliers),
                                  "lurkers": round(1 - share(creators) - share(repliers), 4),
                                  "definition": "among users who were ever members: started >= 1 thread / replied "
                                                "but never started one / neither"},
        "reply_half_life_hours": cfg.reply_half_life_hours,
        "fast_first_answer": {"within_minutes": 60, "share_of_first_threads": cfg.fast_reply_share,
                              "author_churn_multiplier": cfg.fast_reply_churn_multiplier,
                              "author_churn_multiplier_if_later_or_never": cfg.slow_reply_churn_multiplier,
                              "for_days": ANSWER_EFFECT_DAYS, "unanswered_share_of_slow_threads": UNANSWERED_SHARE},
        "core_departure": {"group_id": int(ids.group_id[com.core_group]),
                           "user_id": int(user_id[com.core_user]) if com.core_user >= 0 else None,
                           "day": str(cal.date(com.core_day)) if com.core_day >= 0 else None,
                           "drop_of_others_threads_and_replies": cfg.core_departure_drop},
        "membership": {"churn_multiplier": cfg.group_churn_multiplier,
                       "invite_multiplier": cfg.group_invite_multiplier,
                       "selection": "the daily chance to join grows with engagement squared: members were more "
                                    "active before they joined, so the raw retention gap overstates the effect"},
        "spam_wave": {"start": str(cal.date(wave_lo)), "end": str(cal.date(wave_hi)),
                      "user_ids": sorted(user_id[com.spammers].tolist()), "rule": "spam_ads"},
    }

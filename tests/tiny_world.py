"""A tiny hand-made world that follows every rule of the schema, for fast tests (one row or two per table)."""

from __future__ import annotations

import json
from pathlib import Path

from opsbook.world.generate import WORLD_META
from opsbook.world.io import to_frame, write_manifest, write_table
from opsbook.world.key import GENERATOR_VERSION
from opsbook.world.schema import TABLES

NA = None

# 3 users and a few rows per table, as column lists.
TINY_WORLD: dict[str, dict[str, list]] = {
    "users": {
        "user_id": [1, 2, 3],
        "name": ["Ann Lee", "Bo Wang", "Cai Xu"],
        "gender": ["female", "male", "female"],
        "age": [25, 31, 40],
        "city": ["Shanghai", "Chengdu", "Luoyang"],
        "city_tier": [1, 2, 3],
        "signup_time": ["2025-01-01 08:00:00", "2025-01-02 09:30:00", "2025-01-03 12:00:00"],
        "channel": ["search_ads", "referral", "offline_promo"],
        "platform": ["ios", "android", "android"],
        "app_version": ["3.1.0", "3.1.0", "3.1.0"],
        "referrer_id": [NA, 1, NA],
        "phone": ["13912345671", "13800000001", "15000000003"],
        "email": ["ann.lee@example.com", "bo.wang88@qq.com", "caixu@163.com"],
        "device_id": ["6F1C2A3B-1D2E-4F50-8A9B-0C1D2E3F4A5B", "a1b2c3d4e5f60718", "0f1e2d3c4b5a6978"],
    },
    "events": {
        "user_id": [1, 1, 2, 1, 3],
        "event_time": ["2025-01-01 08:00:00", "2025-01-01 08:01:00", "2025-01-02 10:00:00",
                       "2025-01-05 20:00:00", "2025-01-06 07:00:00"],
        "session_id": [1, 1, 2, 3, 4],
        "event_type": ["open_app", "view_content", "post", "check_in", "purchase"],
        "content_id": [NA, 1, 2, NA, NA],
        "campaign_id": [NA, NA, NA, 1, NA],
    },
    "orders": {
        "order_id": [1, 2],
        "user_id": [1, 3],
        "order_time": ["2025-01-04 21:00:00", "2025-01-06 07:00:00"],
        "amount": [59.9, 120.0],
        "category": ["beauty", "food"],
        "coupon_used": [False, True],
        "campaign_id": [NA, 2],
    },
    "channel_spend": {
        "date": ["2025-01-01", "2025-01-01"],
        "channel": ["search_ads", "organic_search"],
        "spend": [300.5, 0.0],
        "impressions": [1000, 0],
        "clicks": [50, 0],
        "installs": [5, 3],
    },
    "content": {
        "content_id": [1, 2, 3],
        "author_id": [NA, 2, 3],
        "is_official": [True, False, False],
        "content_type": ["article", "image_post", "video"],
        "topic": ["food", "travel", "home"],
        "created_time": ["2024-12-31 10:00:00", "2025-01-02 10:00:00", "2025-01-03 12:30:00"],
        "title": ["Ten snacks for the new year", "Weekend in Chengdu", "Our small balcony"],
    },
    "campaigns": {
        "campaign_id": [1, 2],
        "name": ["Daily check-in", "Spring coupon"],
        "campaign_type": ["check_in", "coupon"],
        "start_time": ["2025-01-01 00:00:00", "2025-01-05 00:00:00"],
        "end_time": ["2025-02-01 00:00:00", "2025-01-12 00:00:00"],
        "budget": [1000.0, 5000.0],
        "rules": ["Check in daily for points", "20 yuan off 100"],
        "target_group": ["all users", "targeted users"],
        "holdout_share": [0.0, 0.2],
    },
    "campaign_targets": {
        "campaign_id": [2, 2],
        "user_id": [1, 3],
        "group": ["holdout", "treatment"],
    },
    "campaign_rewards": {
        "reward_id": [1],
        "user_id": [1],
        "campaign_id": [1],
        "reward_time": ["2025-01-05 20:00:00"],
        "reward_type": ["points"],
        "amount": [1.0],
    },
    "feedback": {
        "feedback_id": [1, 2],
        "user_id": [3, 1],
        "feedback_time": ["2025-01-07 09:00:00", "2025-01-08 09:00:00"],
        "nps_score": [9, NA],
        "category": ["pricing", "ux"],
        "comment": ["Good deals", "Hard to find settings"],
    },
    "experiments": {
        "experiment": ["onboarding_v2", "onboarding_v2"],
        "user_id": [1, 2],
        "variant": ["control", "treatment"],
        "exposure_time": ["2025-01-01 08:00:00", "2025-01-02 09:30:00"],
        "converted": [True, False],
    },
    "invites": {
        "invite_id": [1, 2],
        "inviter_id": [1, 1],
        "invitee_contact": ["138****0001", "139****0002"],  # invite 1: user 2's phone, masked
        "sent_time": ["2025-01-02 09:00:00", "2025-01-03 09:00:00"],
        "signed_up_user_id": [2, NA],
    },
    "community_groups": {
        "group_id": [1, 2],
        "name": ["Shanghai Neighbours", "Home Cooks Club"],
        "group_type": ["city", "interest"],
        "city": ["Shanghai", NA],
        "topic": [NA, "food"],
        "created_time": ["2024-12-01 10:00:00", "2024-12-01 11:00:00"],
    },
    "group_members": {
        "group_id": [1, 1, 2, 2],
        "user_id": [1, 2, 1, 3],
        "join_time": ["2025-01-01 09:00:00", "2025-01-02 11:00:00", "2025-01-05 08:00:00", "2025-01-03 13:00:00"],
        "leave_time": [NA, "2025-01-06 12:00:00", "2025-01-07 08:00:00", NA],
    },
    "threads": {
        "thread_id": [1, 2],
        "group_id": [1, 2],
        "author_id": [1, 3],
        "created_time": ["2025-01-02 12:00:00", "2025-01-04 10:00:00"],
        "title": ["Best hotpot in Shanghai?", "What are you cooking tonight?"],
    },
    "replies": {
        "reply_id": [1, 2, 3],
        "thread_id": [1, 1, 2],
        "user_id": [2, 1, 3],
        "reply_time": ["2025-01-02 12:30:00", "2025-01-03 08:00:00", "2025-01-04 11:00:00"],
    },
    "votes": {
        "thread_id": [1, 2],
        "user_id": [2, 3],
        "vote_time": ["2025-01-02 13:00:00", "2025-01-04 10:30:00"],
    },
    "moderation_actions": {
        "action_id": [1, 2],
        "target_type": ["reply", "thread"],
        "target_id": [2, 2],
        "action_time": ["2025-01-03 09:00:00", "2025-01-04 10:05:00"],
        "rule": ["off_topic", "spam_ads"],
        "moderator": ["staff", "auto"],
    },
    "leads": {
        "lead_id": [1, 2, 3, 4],
        "created_time": ["2025-01-02 10:00:00", "2025-01-03 11:00:00", "2025-01-04 09:00:00", "2025-01-05 09:00:00"],
        "source": ["website_form", "trade_fair", "in_app_form", "sales_outreach"],
        "company": ["Acme Foods", "Acme Foods", "Blue Sky Studio", "Red River Tea"],
        "contact_phone": ["13700000001", "13700000001", "1370000", "13600000002"],
        "clean_status": ["kept", "duplicate", "invalid_contact", "kept"],
        "tier": ["A", NA, NA, "C"],
        "first_followup_time": ["2025-01-02 15:00:00", NA, NA, NA],
        "converted_time": ["2025-01-10 10:00:00", NA, NA, NA],
        "amount": [50000.0, NA, NA, NA],
    },
}


TINY_META = {"seed": 0, "n_users": 3, "days": 10, "start": "2025-01-01", "locale": "en_US"}
"""The tiny world's ``world.json``: the period its data covers (1-10 January 2025)."""


def write_tiny_world(out_dir: Path) -> Path:
    """Write TINY_WORLD as a world folder, ``world.json`` and manifest included."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in TABLES.items():
        write_table(to_frame(table, TINY_WORLD[name]), table, out_dir)
    (out_dir / WORLD_META).write_text(json.dumps({**TINY_META, "generator_version": GENERATOR_VERSION}, indent=1)
                                      + "\n", encoding="utf-8")
    write_manifest(out_dir, [t.filename for t in TABLES.values()] + [WORLD_META])
    return out_dir

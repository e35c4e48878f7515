"""A tiny hand-made world that follows every rule of the schema, for fast tests."""

from __future__ import annotations

from pathlib import Path

from opsbook.world.io import to_frame, write_manifest, write_table
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
        "content_id": [1, 2],
        "author_id": [NA, 2],
        "is_official": [True, False],
        "content_type": ["article", "image_post"],
        "topic": ["food", "travel"],
        "created_time": ["2024-12-31 10:00:00", "2025-01-02 10:00:00"],
        "title": ["Ten snacks for the new year", "Weekend in Chengdu"],
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
        "invitee_contact": ["138****0001", "139****0002"],
        "sent_time": ["2025-01-02 09:00:00", "2025-01-03 09:00:00"],
        "signed_up_user_id": [2, NA],
    },
}


def write_tiny_world(out_dir: Path) -> Path:
    """Write TINY_WORLD as a world folder, manifest included."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, table in TABLES.items():
        write_table(to_frame(table, TINY_WORLD[name]), table, out_dir)
    write_manifest(out_dir, [t.filename for t in TABLES.values()])
    return out_dir

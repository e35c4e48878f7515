"""The merchant leads funnel (线索): capture, cleaning, scoring, follow-up and conversion.

Businesses ask to sell in the app through several sources. Cleaning drops repeats
of an earlier lead (same phone) and unusable contact numbers; the kept leads are
scored A/B/C; sales reps follow most of them up, A leads sooner. Planted: a lead
followed up within 24 hours converts ``lead_fast_multiplier`` times as often as
a later one of the same tier, and tier A converts best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import WorldConfig
from .identity import IdentityPools
from .model import DAY
from .schema import LEAD_SOURCES, LEAD_TIERS

LEADS_PER_USER = 0.08
SOURCE_SHARE = (0.34, 0.22, 0.2, 0.12, 0.12)          # in LEAD_SOURCES order
TIER_BY_SOURCE = np.array([                           # P(A, B, C) per source
    [0.15, 0.35, 0.50], [0.12, 0.33, 0.55], [0.25, 0.40, 0.35], [0.30, 0.40, 0.30], [0.40, 0.40, 0.20]])
FOLLOWED_UP = 0.9
FOLLOWUP_MEDIAN_HOURS = {"A": 12.0, "B": 24.0, "C": 40.0}
CONVERT_SLOW = {"A": 0.12, "B": 0.06, "C": 0.02}       # conversion chance when followed up after 24 hours
CONTRACT_MEDIAN = {"A": 60_000.0, "B": 30_000.0, "C": 15_000.0}
DUPLICATE_SHARE = 0.08
INVALID_SHARE = 0.06


@dataclass
class Leads:
    created: np.ndarray
    source: np.ndarray
    company: np.ndarray
    phone: np.ndarray
    status: np.ndarray
    tier: np.ndarray            # None for dropped leads
    followup: np.ndarray        # seconds, -1 none
    converted: np.ndarray       # seconds, -1 none
    amount: np.ndarray          # NaN unless converted


def build_leads(cfg: WorldConfig, pools: IdentityPools, weekday: np.ndarray, rng: np.random.Generator) -> Leads:
    n = max(int(round(cfg.n_users * LEADS_PER_USER)), 1)
    day_w = np.where(weekday >= 5, 0.35, 1.0)            # businesses write on working days
    day = np.sort(rng.choice(cfg.days, size=n, p=day_w / day_w.sum()))
    created = day * DAY + rng.integers(9 * 3600, 20 * 3600, n)
    created.sort()
    source = rng.choice(len(LEAD_SOURCES), size=n, p=SOURCE_SHARE)
    company = pools.company_names(rng, n)
    phone = pools.phones(rng, n)
    status = np.full(n, "kept", dtype=object)
    # Unusable numbers: too short, a placeholder, letters typed in.
    bad = np.flatnonzero(rng.random(n) < INVALID_SHARE)
    kinds = rng.integers(0, 3, bad.size)
    phone[bad] = np.array([p[:-2] if k == 0 else "00000000000" if k == 1 else p[:7] + "abcd"
                           for p, k in zip(phone[bad], kinds)], dtype=object)
    status[bad] = "invalid_contact"
    # Repeats: a business that filled the form again, later, with the same phone and name.
    is_dup = rng.random(n) < DUPLICATE_SHARE
    is_dup[0] = False
    dup = np.flatnonzero(is_dup)
    firsts = np.flatnonzero(~is_dup)                    # a repeat copies an earlier lead that is not a repeat
    original = firsts[(rng.random(dup.size) * np.searchsorted(firsts, dup)).astype(np.int64)]
    company[dup], phone[dup], source[dup] = company[original], phone[original], source[original]
    status[dup] = "duplicate"

    kept = status == "kept"
    probs = TIER_BY_SOURCE[source]
    tier_idx = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    tier = np.where(kept, np.array(LEAD_TIERS, dtype=object)[np.minimum(tier_idx, 2)], None)
    median = np.array([FOLLOWUP_MEDIAN_HOURS.get(t, 1.0) for t in tier])
    hours = median * rng.lognormal(0, 1.0, n)
    followup = np.where(kept & (rng.random(n) < FOLLOWED_UP), created + (hours * 3600).astype(np.int64), -1)
    end = cfg.days * DAY
    followup = np.where(followup < end, followup, -1)
    fast = (followup >= 0) & (followup - created <= 24 * 3600)
    p = np.array([CONVERT_SLOW.get(t, 0.0) for t in tier]) * np.where(fast, cfg.lead_fast_multiplier, 1.0)
    converts = (followup >= 0) & (rng.random(n) < p)
    converted = np.where(converts, followup + rng.exponential(8 * DAY, n).astype(np.int64) + 3600, -1)
    converted = np.where(converted < end, converted, -1)
    amount = np.where(converted >= 0, np.round([CONTRACT_MEDIAN.get(t, 1.0) for t in tier]
                                               * rng.lognormal(0, 0.5, n), -2), np.nan)
    return Leads(created, np.array(LEAD_SOURCES, dtype=object)[source], company, phone, status, tier, followup,
                 converted, amount)

"""The behavioural model: who arrives, and what they do day by day.

Users carry latent traits (engagement, spending, churn hazard, an "aha"
habit, being a creator). A day loop, vectorised over users, decides who
churns, who comes back, who is active and who buys, under weekly
seasonality, campaigns, experiments and a buggy release. Everything else
(sessions, events, content views) is drawn from that activity afterwards in
``opsbook.world.observe``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .config import WorldConfig
from .schema import CHANNELS, EXPERIMENTS, PLATFORMS

DAY = 86_400


@dataclass(frozen=True)
class ChannelProfile:
    cpi: float            # cost per install, CNY (0 = free channel)
    signup_rate: float    # installs -> signups
    click_to_install: float
    ctr: float            # impressions -> clicks
    engagement: float     # multiplies daily activity
    churn: float          # multiplies churn hazard
    share: float          # share of signups on an ordinary day


CHANNEL_PROFILES: dict[str, ChannelProfile] = {
    "search_ads": ChannelProfile(16.0, 0.78, 0.30, 0.035, 1.05, 0.9, 0.15),
    "organic_search": ChannelProfile(0.0, 0.80, 0.35, 0.050, 1.15, 0.8, 0.12),
    "social_ads": ChannelProfile(9.0, 0.62, 0.22, 0.012, 0.95, 1.1, 0.20),
    "content_marketing": ChannelProfile(24.0, 0.82, 0.28, 0.020, 1.30, 0.7, 0.10),
    "offline_promo": ChannelProfile(5.0, 0.88, 0.70, 0.300, 1.00, 1.0, 0.17),
    "referral": ChannelProfile(0.0, 0.90, 0.60, 0.250, 1.20, 0.8, 0.08),
    "app_store": ChannelProfile(0.0, 0.75, 0.40, 0.080, 1.00, 1.0, 0.18),
}
# Hour-of-day weights of app use (evening peak) and of street promotion (daytime).
USE_HOURS = np.array([2, 1, 1, 1, 1, 2, 4, 7, 9, 8, 7, 8, 10, 9, 7, 7, 7, 8, 10, 13, 15, 15, 12, 6], float)
STREET_HOURS = np.array([0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 9, 8, 8, 9, 9, 8, 6, 3, 1, 0, 0, 0], float)
APP_VERSIONS = (("3.0.0", 0), ("3.1.0", 40))  # (version, first day); the buggy release follows


@dataclass(frozen=True)
class Campaign:
    campaign_id: int
    name: str
    kind: str
    start_day: int
    end_day: int          # exclusive
    budget_per_1k_users: float
    rules: str
    target_group: str
    holdout_share: float = 0.0
    target: str | None = None        # a TARGET_RULES rule for campaigns sent to a list
    max_joins: int | None = None     # the budget caps how many can join


def campaigns_for(config: WorldConfig) -> list[Campaign]:
    """The five campaigns of the half-year, with day offsets from ``config.start``."""
    return [
        Campaign(1, "Winter check-in challenge", "check_in", 40, 54, 1600.0,
                 "Check in on 7 days during the challenge to earn 3 CNY of points.", "all active users"),
        Campaign(2, "Spring win-back coupon", "coupon", 82, 96, 3000.0,
                 "A 15 CNY coupon pushed to lapsed users; claim it in the app and use it on any order.",
                 "users signed up 30+ days ago with no order in the last 30 days",
                 config.coupon_holdout_share, target="lapsed_buyers"),
        Campaign(3, "May Day lucky draw", "lottery", 117, 124, 900.0,
                 "Join the draw; 8% of entrants win a 30 CNY gift.", "all active users"),
        Campaign(4, "Invite friends, earn cash", "invite", config.bot_day, 151, 2500.0,
                 "Join, then earn 10 CNY for each friend who signs up from your invite during the campaign.",
                 "all active users"),
        Campaign(5, "618 mid-year sale", "sale_618", 151, 169, 7000.0,
                 "Join the sale to get a 10 CNY coupon; big discounts until 18 June.", "all active users"),
    ]


EXPERIMENT_WINDOWS = {"onboarding_v2": (14, 45), "feed_layout": (56, 87), "push_prompt": (140, 171)}


@dataclass
class DayFactors:
    """Multipliers per day of the period."""

    activity: np.ndarray
    purchase: np.ndarray
    signup: np.ndarray
    resurrect: np.ndarray
    weekday: np.ndarray


def day_factors(config: WorldConfig) -> DayFactors:
    days = np.arange(config.days)
    weekday = (np.datetime64(config.start.isoformat()) + days).astype("datetime64[D]").view("int64")
    weekday = (weekday + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
    weekend = weekday >= 5
    activity = np.where(weekend, 1.12, 1.0)
    signup = np.where(weekend, 1.15, 1.0) * (1 + 0.004 * days)
    purchase = np.where(weekend, 1.1, 1.0)
    resurrect = np.ones(config.days)
    cny = (days >= 26) & (days < 34)              # Spring Festival holiday
    activity = activity * np.where(cny, 1.1, 1.0)
    signup = signup * np.where(cny, 0.7, 1.0)
    sale = (days >= 151) & (days < 169)           # 618 season, peaking on 18 June (day 168)
    peak = np.exp(-0.5 * ((days - 168) / 1.5) ** 2)
    activity = activity * np.where(sale, 1.15, 1.0) * (1 + 0.5 * peak)
    purchase = purchase * np.where(sale, 2.0, 1.0) * (1 + 3.0 * peak)
    signup = signup * np.where(sale, 1.25, 1.0)
    resurrect = resurrect * np.where(sale, 3.0, 1.0) * (1 + 4 * peak)
    return DayFactors(activity, purchase, signup, resurrect, weekday)


def channel_day_weights(config: WorldConfig, factors: DayFactors) -> np.ndarray:
    """Signup intensity per (day, channel): shares, the spring 地推 push, the invite campaign."""
    shares = np.array([CHANNEL_PROFILES[c].share for c in CHANNELS])
    w = np.outer(factors.signup, shares)
    days = np.arange(config.days)
    off = CHANNELS.index("offline_promo")
    w[:, off] *= np.where((days >= 75) & (days < 110), 2.5, 1.0)   # campus promotion season
    ref = CHANNELS.index("referral")
    w[:, ref] *= np.where((days >= config.bot_day) & (days < 151), 3.0, 1.0)
    w[days < 3, ref] = 0.0                                          # nobody to invite them yet
    return w / w.sum()


@dataclass
class Population:
    """Traits of every human user, sorted by signup time."""

    signup_sec: np.ndarray        # seconds since the start of the period
    channel: np.ndarray           # index into CHANNELS
    platform: np.ndarray          # 0 = ios, 1 = android
    female: np.ndarray
    age: np.ndarray
    engagement: np.ndarray        # base probability of being active on a day
    spend: np.ndarray             # expected orders per active day
    churn: np.ndarray             # daily churn hazard
    aha: np.ndarray               # follows >= aha_follows accounts in the first aha_days
    creator: np.ndarray
    sessions_rate: np.ndarray
    events_rate: np.ndarray
    experiment_variant: dict[str, np.ndarray] = field(default_factory=dict)  # -1 not in, 0 control, 1 treat

    @property
    def signup_day(self) -> np.ndarray:
        return self.signup_sec // DAY

    @property
    def n(self) -> int:
        return self.signup_sec.size


def draw_population(config: WorldConfig, rng: np.random.Generator, factors: DayFactors) -> Population:
    """Signups per (day, channel) over the period, each user's traits, and A/B assignments."""
    w = channel_day_weights(config, factors)
    pop = new_users(config, rng, rng.multinomial(config.n_users, w.ravel()).reshape(w.shape))
    signup_day = pop.signup_day
    for name in EXPERIMENTS:
        lo, hi = EXPERIMENT_WINDOWS[name]
        inside = (signup_day >= lo) & (signup_day < hi)
        pop.experiment_variant[name][inside] = rng.integers(0, 2, int(inside.sum()))
    return pop


def new_users(config: WorldConfig, rng: np.random.Generator, counts: np.ndarray, first_day: int = 0) -> Population:
    """Users from signup counts per (day, channel), days counted from ``first_day``; sorted by signup."""
    day_idx, ch_idx = np.nonzero(counts)
    reps = counts[day_idx, ch_idx]
    day = first_day + np.repeat(day_idx, reps)
    channel = np.repeat(ch_idx, reps)
    n = day.size
    street = channel == CHANNELS.index("offline_promo")
    hour = rng.choice(24, size=n, p=USE_HOURS / USE_HOURS.sum())
    hour[street] = rng.choice(24, size=int(street.sum()), p=STREET_HOURS / STREET_HOURS.sum())
    sec = day * DAY + hour * 3600 + rng.integers(0, 3600, n)
    order = np.argsort(sec, kind="stable")
    sec, channel = sec[order], channel[order]

    eng_mult = np.array([CHANNEL_PROFILES[c].engagement for c in CHANNELS])[channel]
    churn_mult = np.array([CHANNEL_PROFILES[c].churn for c in CHANNELS])[channel]
    poor = channel == CHANNELS.index(config.poor_channel)
    eng_mult = np.where(poor, config.poor_channel_engagement, eng_mult)
    churn_mult = np.where(poor, churn_mult * 2.5, churn_mult)

    latent = rng.beta(2.0, 3.5, n)                                   # engagement propensity
    engagement = np.clip(latent * 0.9 * eng_mult, 0.02, 0.95)
    aha_p = 1 / (1 + np.exp(-(latent - 0.42) * 9)) * np.where(poor, 0.4, 1.0)
    aha = rng.random(n) < aha_p
    churn = 0.045 * churn_mult * np.where(aha, config.aha_churn_multiplier, 1.0) * rng.lognormal(0, 0.3, n)
    spend = rng.gamma(0.45, 0.15, n) * (0.6 + latent)                # heavy-tailed buyers
    return Population(
        signup_sec=sec,
        channel=channel,
        platform=(rng.random(n) < 0.62).astype(np.int64),
        female=rng.random(n) < 0.64,
        age=np.clip(np.round(rng.gamma(7.0, 4.2, n) + 14), 16, 70).astype(np.int64),
        engagement=engagement,
        spend=spend,
        churn=churn,
        aha=aha,
        creator=rng.random(n) < 0.03 + 0.12 * latent,
        sessions_rate=0.15 + 0.9 * latent,
        events_rate=1.5 + 4.0 * latent,
        experiment_variant={name: np.full(n, -1, dtype=np.int64) for name in EXPERIMENTS},
    )


@dataclass
class LoopState:
    """What the day loop remembers about each user between days."""

    alive: np.ndarray
    last_active: np.ndarray
    last_order: np.ndarray
    joined: dict[int, np.ndarray]   # campaign id -> day each user joined (-1 = never)
    targets: dict[int, np.ndarray]  # targeted campaign id -> -1 not targeted, 0 holdout, 1 treatment

    @classmethod
    def fresh(cls, n: int) -> "LoopState":
        return cls(np.ones(n, bool), np.full(n, -10_000), np.full(n, -10_000), {}, {})

    def grown(self, n: int) -> "LoopState":
        """A copy with room for users added after the existing ones."""
        pad = n - self.alive.size
        ext = lambda a, v: np.concatenate([a, np.full(pad, v, dtype=a.dtype)])
        return LoopState(ext(self.alive, True), ext(self.last_active, -10_000), ext(self.last_order, -10_000),
                         {k: ext(v, -1) for k, v in self.joined.items()},
                         {k: ext(v, -1) for k, v in self.targets.items()})


@dataclass
class Activity:
    """What the day loop decided: active (user, day) pairs and purchases, plus campaign state."""

    user: np.ndarray              # active (user, day) pairs, sorted by day then user
    day: np.ndarray
    orders: np.ndarray            # number of orders on that pair
    joined: dict[int, np.ndarray]  # campaign id -> day each user joined (-1 = never)
    targets: dict[int, np.ndarray]  # targeted campaign id -> -1 not targeted, 0 holdout, 1 treatment

    def joined_by(self, campaign: Campaign) -> np.ndarray:
        """Mask over pairs: inside the campaign and the user had joined by that day."""
        jd = self.joined[campaign.campaign_id][self.user]
        return (jd >= 0) & (jd <= self.day) & (self.day >= campaign.start_day) & (self.day < campaign.end_day)


JOIN_PROBABILITY = {"check_in": 0.25, "lottery": 0.15, "invite": 0.08, "sale_618": 0.3}
TARGET_RULES = ("lapsed_buyers", "dormant", "churned", "active", "all")


def target_mask(rule: str, tenure: np.ndarray, since_active: np.ndarray, since_order: np.ndarray) -> np.ndarray:
    """Who a targeted campaign reaches, by rule (METRICS.md lifecycle windows)."""
    masks = {
        "lapsed_buyers": (tenure >= 30) & (since_order > 30),
        "dormant": (since_active >= 14) & (since_active < 30),
        "churned": since_active >= 30,
        "active": since_active < 7,
        "all": tenure >= 0,
    }
    return masks[rule]


def simulate(config: WorldConfig, pop: Population, factors: DayFactors, rng: np.random.Generator,
             campaigns: list[Campaign], days: range, state: LoopState | None = None,
             bug_window: tuple[int, int] | None = None, progress=None) -> tuple[Activity, LoopState]:
    """Day by day: churn, come back, be active, buy, join campaigns.

    Runs ``days`` of the period (the history, or a forward run from the end of it
    with ``state`` carried over); ``bug_window`` is [first, last) day of the buggy release.
    """
    n = pop.n
    st = LoopState.fresh(n) if state is None else state
    for camp in campaigns:
        st.joined.setdefault(camp.campaign_id, np.full(n, -1))
        if camp.target:
            st.targets.setdefault(camp.campaign_id, np.full(n, -1))
    signup_day = pop.signup_day
    buggy_platform = pop.platform == PLATFORMS.index(config.bug_platform)
    onboarding = pop.experiment_variant["onboarding_v2"] == 1
    bug_lo, bug_hi = bug_window or (config.bug_start_day, config.bug_start_day + config.bug_days)
    users, days_out, orders = [], [], []
    for d in days:
        m = int(np.searchsorted(signup_day, d, side="right"))  # users signed up by day d
        tenure = d - signup_day[:m]
        bug = buggy_platform[:m] & (bug_lo <= d < bug_hi)
        live = [c for c in campaigns if c.start_day <= d < c.end_day]
        for camp in live:
            if camp.target and d == camp.start_day:
                idx = np.flatnonzero(target_mask(camp.target, tenure, d - st.last_active[:m], d - st.last_order[:m]))
                if camp.max_joins is not None and idx.size > camp.max_joins:   # the budget pays for fewer offers
                    idx = np.sort(rng.choice(idx, size=camp.max_joins, replace=False))
                st.targets[camp.campaign_id][idx] = (rng.random(idx.size) >= camp.holdout_share).astype(np.int64)
        treated = np.zeros(m, bool)
        checking_in = np.zeros(m, bool)
        for camp in live:
            if camp.kind == "coupon":
                treated |= st.targets[camp.campaign_id][:m] == 1
            elif camp.kind == "check_in":
                checking_in |= st.joined[camp.campaign_id][:m] >= 0

        hazard = pop.churn[:m] * (1 + 3 * np.exp(-tenure / 3))
        hazard = np.where(bug, hazard * config.bug_churn_multiplier, hazard)
        early = onboarding[:m] & (tenure <= 7)
        hazard = np.where(early, hazard * 0.75, hazard)
        alive = st.alive[:m]
        dies = (tenure > 0) & alive & (rng.random(m) < hazard)
        revive_p = 0.0025 * factors.resurrect[d] * np.where(treated, 6.0, 1.0)
        revives = ~alive & (rng.random(m) < revive_p)
        st.alive[:m] = (alive & ~dies) | revives

        p = pop.engagement[:m] * (0.5 + 0.5 * np.exp(-tenure / 12)) * factors.activity[d]
        p = np.where(bug, p * config.bug_activity_multiplier, p)
        p = np.where(early, p * (1 + config.ab_effects["onboarding_v2"]), p)
        p = np.where(treated, p * 1.3, p)
        p = np.where(checking_in, p * 1.3, p)
        active = st.alive[:m] & (rng.random(m) < np.clip(p, 0, 0.97))
        active[tenure == 0] = True
        idx = np.flatnonzero(active)

        q = pop.spend[idx] * factors.purchase[d]
        q = np.where(treated[idx], q * config.coupon_lift, q)
        n_orders = rng.poisson(q)

        for camp in live:
            j = st.joined[camp.campaign_id]
            fresh = idx[j[idx] < 0]
            if camp.target:
                fresh = fresh[st.targets[camp.campaign_id][fresh] == 1]
                p_join = np.full(fresh.size, 0.7)
            else:
                p_join = JOIN_PROBABILITY[camp.kind] * (0.5 + pop.engagement[fresh])
            joins = fresh[rng.random(fresh.size) < p_join]
            if camp.max_joins is not None:
                joins = joins[: max(camp.max_joins - int((j >= 0).sum()), 0)]
            j[joins] = d

        users.append(idx)
        days_out.append(np.full(idx.size, d))
        orders.append(n_orders)
        st.last_active[idx] = d
        st.last_order[idx[n_orders > 0]] = d
        if progress is not None:
            progress.update(1)
    act = Activity(np.concatenate(users), np.concatenate(days_out), np.concatenate(orders), st.joined, st.targets)
    return act, st


def app_version(config: WorldConfig, day: np.ndarray) -> np.ndarray:
    """Version installed at signup: the buggy release ships on both platforms, the fix follows."""
    versions = np.full(day.size, APP_VERSIONS[0][0], dtype=object)
    for version, first in APP_VERSIONS[1:]:
        versions[day >= first] = version
    versions[day >= config.bug_start_day] = config.bug_version
    versions[day >= config.bug_start_day + config.bug_days] = config.fix_version
    return versions

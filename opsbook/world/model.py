"""The behavioural model: who arrives, and what they do day by day.

Users carry latent traits (engagement, spending, churn hazard, an "aha"
habit, being a creator). A day loop, vectorised over users, decides who
churns, who comes back, who is active and who buys, who joins a campaign or a
community group and who starts a thread there, under weekly seasonality,
festivals, campaigns, experiments and a buggy release. Everything else
(sessions, events, content views, replies) is drawn from that activity
afterwards in ``opsbook.world.observe`` and ``opsbook.world.community``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .campaigns import Campaign, campaigns_for, sale_window  # noqa: F401  (Campaign and campaigns_for re-exported)
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


@dataclass
class DayFactors:
    """Multipliers per day of the period."""

    activity: np.ndarray
    purchase: np.ndarray
    signup: np.ndarray
    resurrect: np.ndarray
    weekday: np.ndarray


def day_factors(config: WorldConfig) -> DayFactors:
    """Weekends, the Spring Festival holiday and the shopping festivals (618, Double 11), from the calendar."""
    cal = config.calendar()
    weekday = cal.weekday()
    days = np.arange(config.days)
    weekend = weekday >= 5
    activity = np.where(weekend, 1.12, 1.0)
    signup = np.where(weekend, 1.15, 1.0) * (1 + 0.004 * days)
    purchase = np.where(weekend, 1.1, 1.0)
    resurrect = np.ones(config.days)
    holidays = [cal.window("spring_festival", -2, 6) for f in cal.festivals if f.key == "spring_festival"]
    holiday = cal.in_windows(holidays)
    activity = activity * np.where(holiday, 1.1, 1.0)
    signup = signup * np.where(holiday, 0.7, 1.0)
    for key, season in (("618", (-17, 1)), ("double_11", (-20, 1))):
        for f in cal.festivals:
            if f.key != key:
                continue
            sale = cal.in_windows([(max(f.day + season[0], 0), min(f.day + season[1], config.days))])
            peak = np.exp(-0.5 * ((days - f.day) / 1.5) ** 2)
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
    lo, hi = config.campus_promo_days
    w[:, off] *= np.where((days >= lo) & (days < hi), 2.5, 1.0)   # campus promotion season
    ref = CHANNELS.index("referral")
    invite_end = sale_window(config.calendar())[0]
    w[:, ref] *= np.where((days >= config.bot_day) & (days < invite_end), 3.0, 1.0)
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
        lo, hi = config.experiment_windows[name]
        hi = min(hi, config.days - 8)          # every exposed user can be followed for 7 days
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


def _padder(pad: int):
    """``ext(array, value)``: the array with ``pad`` more cells holding ``value``."""
    return lambda a, v: np.concatenate([a, np.full(pad, v, dtype=a.dtype)])


@dataclass
class CommunityState:
    """Each user's community group membership, as the day loop sees it."""

    joined: np.ndarray        # day the user joined a group (-1 = never)
    left: np.ndarray          # day they left it (-1 = still in, or never joined)
    answered_until: np.ndarray  # how their first thread was answered changes their churn until this day
    answered_effect: np.ndarray  # ... by this multiplier
    posted: np.ndarray        # has started a thread

    @classmethod
    def fresh(cls, n: int) -> CommunityState:
        return cls(np.full(n, -1), np.full(n, -1), np.full(n, -1), np.ones(n), np.zeros(n, bool))

    def member(self, d: int, m: int) -> np.ndarray:
        j, left = self.joined[:m], self.left[:m]
        return (j >= 0) & (j < d) & ((left < 0) | (left > d))

    def grown(self, n: int) -> CommunityState:
        ext = _padder(n - self.joined.size)
        return CommunityState(ext(self.joined, -1), ext(self.left, -1), ext(self.answered_until, -1),
                              ext(self.answered_effect, 1.0), ext(self.posted, False))

    def copy(self) -> CommunityState:
        return CommunityState(self.joined.copy(), self.left.copy(), self.answered_until.copy(),
                              self.answered_effect.copy(), self.posted.copy())


@dataclass
class LoopState:
    """What the day loop remembers about each user between days."""

    alive: np.ndarray
    last_active: np.ndarray
    last_order: np.ndarray
    joined: dict[int, np.ndarray]   # campaign id -> day each user joined (-1 = never)
    targets: dict[int, np.ndarray]  # targeted campaign id -> -1 not targeted, 0 holdout, 1 treatment
    community: CommunityState | None = None
    sends: np.ndarray | None = None  # how many targeted offers each user has been sent so far

    @classmethod
    def fresh(cls, n: int) -> LoopState:
        return cls(np.ones(n, bool), np.full(n, -10_000), np.full(n, -10_000), {}, {},
                   CommunityState.fresh(n), np.zeros(n, np.int64))

    def ready(self, n: int, campaigns: list[Campaign]) -> LoopState:
        """Arrays for every campaign of the run and for the community (a state from older code may lack them)."""
        for camp in campaigns:
            self.joined.setdefault(camp.campaign_id, np.full(n, -1))
            if camp.target:
                self.targets.setdefault(camp.campaign_id, np.full(n, -1, dtype=np.int8))
        if self.community is None:
            self.community = CommunityState.fresh(n)
        if self.sends is None:
            self.sends = np.zeros(n, np.int64)
            for t in self.targets.values():
                self.sends += t == 1
        return self

    def grown(self, n: int) -> LoopState:
        """A copy with room for users added after the existing ones."""
        ext = _padder(n - self.alive.size)
        return LoopState(ext(self.alive, True), ext(self.last_active, -10_000), ext(self.last_order, -10_000),
                         {k: ext(v, -1) for k, v in self.joined.items()},
                         {k: ext(v, -1) for k, v in self.targets.items()},
                         None if self.community is None else self.community.grown(n),
                         None if self.sends is None else ext(self.sends, 0))

    def copy(self) -> LoopState:
        return LoopState(self.alive.copy(), self.last_active.copy(), self.last_order.copy(),
                         {k: v.copy() for k, v in self.joined.items()}, {k: v.copy() for k, v in self.targets.items()},
                         None if self.community is None else self.community.copy(),
                         None if self.sends is None else self.sends.copy())


@dataclass
class Activity:
    """What the day loop decided: active (user, day) pairs and purchases, plus campaign and community state."""

    user: np.ndarray              # active (user, day) pairs, sorted by day then user
    day: np.ndarray
    orders: np.ndarray            # number of orders on that pair
    joined: dict[int, np.ndarray]  # campaign id -> day each user joined (-1 = never)
    targets: dict[int, np.ndarray]  # targeted campaign id -> -1 not targeted, 0 holdout, 1 treatment
    threads: np.ndarray | None = None   # threads started on that pair
    fast_first_answer: np.ndarray | None = None  # per user: their first thread was answered within the hour
    community: CommunityState | None = None

    def joined_by(self, campaign: Campaign) -> np.ndarray:
        """Mask over pairs: inside the campaign and the user had joined by that day."""
        jd = self.joined[campaign.campaign_id][self.user]
        return (jd >= 0) & (jd <= self.day) & (self.day >= campaign.start_day) & (self.day < campaign.end_day)


ONBOARDING_CHURN = 0.5    # the new onboarding (onboarding_v2) also halves churn in the first week
ANSWER_EFFECT_DAYS = 45   # how long the way a user's first thread was answered changes their churn
JOIN_PROBABILITY = {"check_in": 0.25, "lottery": 0.15, "invite": 0.08, "sale_618": 0.3}
TARGET_RULES = ("lapsed_buyers", "dormant", "churned", "active", "all")
"""The target rules a plan may choose (the world's own recurring runs also use newcomers and active_buyers)."""


def target_mask(rule: str, tenure: np.ndarray, since_active: np.ndarray, since_order: np.ndarray) -> np.ndarray:
    """Who a targeted campaign reaches, by rule (lifecycle windows of the course's metric definitions)."""
    masks = {
        "lapsed_buyers": lambda: (tenure >= 30) & (since_order > 30),
        "dormant": lambda: (since_active >= 14) & (since_active < 30),
        "churned": lambda: since_active >= 30,
        "active": lambda: since_active < 7,
        "all": lambda: tenure >= 0,
        "newcomers": lambda: (tenure >= 7) & (tenure <= 13),
        "active_buyers": lambda: (tenure >= 1) & (since_order < 10_000) & (since_active < 30),
    }
    return masks[rule]()


@dataclass
class _Day:
    """What every step of one simulated day needs to know."""

    d: int
    m: int                    # users signed up by day d
    tenure: np.ndarray
    bug: np.ndarray
    live: list[Campaign]


@dataclass
class _Exposure:
    """Per user (first m) multipliers and flags in force today."""

    treated: np.ndarray       # in a one-off coupon's treatment group
    checking_in: np.ndarray
    extra: np.ndarray         # extra purchase rate from an unused recurring coupon in hand
    member: np.ndarray
    answered: np.ndarray      # churn multiplier from how the user's first thread was answered
    early: np.ndarray         # in the onboarding_v2 treatment, first week


class _Loop:
    """The day loop: each method is one step of a day, in order."""

    def __init__(self, config: WorldConfig, pop: Population, factors: DayFactors, rng: np.random.Generator,
                 campaigns: list[Campaign], state: LoopState, bug_window: tuple[int, int]) -> None:
        self.cfg, self.pop, self.factors, self.rng = config, pop, factors, rng
        self.campaigns, self.st = campaigns, state
        self.signup_day = pop.signup_day
        self.buggy_platform = pop.platform == PLATFORMS.index(config.bug_platform)
        self.onboarding = pop.experiment_variant["onboarding_v2"] == 1
        self.bug_lo, self.bug_hi = bug_window
        self.fast_first = np.zeros(pop.n, bool)
        self.earlier: dict[int, np.ndarray] = {}      # recurring campaign id -> offers each user had before it
        self.used: dict[int, np.ndarray] = {}         # recurring campaign id -> the user's coupon is spent

    def today(self, d: int) -> _Day:
        m = int(np.searchsorted(self.signup_day, d, side="right"))  # users signed up by day d
        tenure = d - self.signup_day[:m]
        bug = self.buggy_platform[:m] & (self.bug_lo <= d < self.bug_hi)
        live = [c for c in self.campaigns if c.start_day <= d < c.end_day]
        return _Day(d, m, tenure, bug, live)

    def send_offers(self, day: _Day) -> None:
        """On a targeted campaign's first day: its target list, split into treatment and hold-out."""
        st, rng, d, m = self.st, self.rng, day.d, day.m
        for camp in day.live:
            if not (camp.target and d == camp.start_day):
                continue
            mask = target_mask(camp.target, day.tenure, d - st.last_active[:m], d - st.last_order[:m])
            idx = np.flatnonzero(mask)
            if camp.max_joins is not None and idx.size > camp.max_joins:   # the budget pays for fewer offers
                idx = np.sort(rng.choice(idx, size=camp.max_joins, replace=False))
            group = (rng.random(idx.size) >= camp.holdout_share).astype(np.int8)
            if camp.recurring and idx.size >= 2:       # a comparison needs both groups
                group[rng.integers(0, idx.size)] = 0
                if not group.any():
                    group[0] = 1
            st.targets[camp.campaign_id][idx] = group
            if camp.recurring:
                self.earlier[camp.campaign_id] = st.sends.astype(np.int16)
                self.used[camp.campaign_id] = np.zeros(self.pop.n, bool)
            st.sends[idx[group == 1]] += 1

    def exposure(self, day: _Day) -> _Exposure:
        st, m, d = self.st, day.m, day.d
        treated, checking_in = np.zeros(m, bool), np.zeros(m, bool)
        for camp in day.live:
            if camp.kind == "coupon":
                treated |= st.targets[camp.campaign_id][:m] == 1
            elif camp.kind == "check_in":
                checking_in |= st.joined[camp.campaign_id][:m] >= 0
        member = st.community.member(d, m)
        answered = np.where(st.community.answered_until[:m] > d, st.community.answered_effect[:m], 1.0)
        early = self.onboarding[:m] & (day.tenure <= 7)
        return _Exposure(treated, checking_in, np.zeros(m), member, answered, early)

    def holding(self, day: _Day, ex: _Exposure) -> _Exposure:
        """``ex`` with the extra purchase rate of unused recurring coupons in hand (claimed today or before)."""
        m, cfg = day.m, self.cfg
        for camp in day.live:
            if not camp.recurring:
                continue
            holders = np.flatnonzero((self.st.joined[camp.campaign_id][:m] >= 0) & ~self.used[camp.campaign_id][:m])
            if camp.kind == "newcomer_coupon":
                boost = cfg.newcomer_boost
            else:
                boost = cfg.flash_boost * cfg.flash_staleness ** (camp.run - 1)
            ex.extra[holders] += boost * cfg.flash_boost_decay ** self.earlier[camp.campaign_id][holders]
        return ex

    def churn_and_return(self, day: _Day, ex: _Exposure) -> None:
        cfg, st, rng, m = self.cfg, self.st, self.rng, day.m
        hazard = self.pop.churn[:m] * (1 + 3 * np.exp(-day.tenure / 3))
        hazard = np.where(day.bug, hazard * cfg.bug_churn_multiplier, hazard)
        hazard = np.where(ex.early, hazard * ONBOARDING_CHURN, hazard)
        hazard = np.where(ex.member, hazard * cfg.group_churn_multiplier, hazard)
        hazard = hazard * ex.answered
        alive = st.alive[:m]
        dies = (day.tenure > 0) & alive & (rng.random(m) < hazard)
        revive_p = 0.0025 * self.factors.resurrect[day.d] * np.where(ex.treated, 6.0, 1.0)
        revives = ~alive & (rng.random(m) < revive_p)
        st.alive[:m] = (alive & ~dies) | revives

    def active(self, day: _Day, ex: _Exposure) -> np.ndarray:
        cfg, m = self.cfg, day.m
        p = self.pop.engagement[:m] * (0.5 + 0.5 * np.exp(-day.tenure / 12)) * self.factors.activity[day.d]
        p = np.where(day.bug, p * cfg.bug_activity_multiplier, p)
        p = np.where(ex.early, p * (1 + cfg.ab_effects["onboarding_v2"]), p)
        p = np.where(ex.treated, p * 1.3, p)
        p = np.where(ex.checking_in, p * 1.3, p)
        active = self.st.alive[:m] & (self.rng.random(m) < np.clip(p, 0, 0.97))
        active[day.tenure == 0] = True
        return np.flatnonzero(active)

    def purchases(self, day: _Day, ex: _Exposure, idx: np.ndarray) -> np.ndarray:
        q = self.pop.spend[idx] * self.factors.purchase[day.d]
        q = np.where(ex.treated[idx], q * self.cfg.coupon_lift, q)
        q = q + ex.extra[idx]
        return self.rng.poisson(q)

    def claim_coupons(self, day: _Day, idx: np.ndarray) -> None:
        """Targeted users who are active claim a recurring run's coupon (before they shop): less often the more
        offers they have had, more often on a festival."""
        cfg, st = self.cfg, self.st
        for camp in day.live:
            if not camp.recurring:
                continue
            j = st.joined[camp.campaign_id]
            fresh = idx[(j[idx] < 0) & (st.targets[camp.campaign_id][idx] == 1)]
            base = cfg.newcomer_join if camp.kind == "newcomer_coupon" else cfg.flash_join
            festival = cfg.festival_response if camp.festival else 1.0
            p_join = base * festival * cfg.fatigue ** self.earlier[camp.campaign_id][fresh]
            j[fresh[self.rng.random(fresh.size) < p_join]] = day.d

    def spend_coupons(self, day: _Day, idx: np.ndarray, n_orders: np.ndarray) -> None:
        """A recurring run's coupon is spent on its holder's first order."""
        for camp in day.live:
            if camp.recurring:
                holders = self.st.joined[camp.campaign_id][idx] >= 0
                self.used[camp.campaign_id][idx[holders & (n_orders > 0)]] = True

    def joins(self, day: _Day, idx: np.ndarray) -> None:
        """Active users join live one-off campaigns: open ones by engagement, targeted ones if they got the offer."""
        st, rng, d = self.st, self.rng, day.d
        for camp in day.live:
            if camp.recurring:
                continue
            j = st.joined[camp.campaign_id]
            fresh = idx[j[idx] < 0]
            if camp.target:
                fresh = fresh[st.targets[camp.campaign_id][fresh] == 1]
                p_join = np.full(fresh.size, 0.7)
            else:
                p_join = JOIN_PROBABILITY[camp.kind] * (0.5 + self.pop.engagement[fresh])
            joins = fresh[rng.random(fresh.size) < p_join]
            if camp.max_joins is not None:
                joins = joins[: max(camp.max_joins - int((j >= 0).sum()), 0)]
            j[joins] = d

    def community(self, day: _Day, idx: np.ndarray) -> np.ndarray:
        """Active users join or leave a group; members start threads. Returns threads per active user."""
        cfg, rng, d, com = self.cfg, self.rng, day.d, self.st.community
        eng = self.pop.engagement[idx]
        outside = (com.joined[idx] < 0) & (day.tenure[idx] >= 1)
        p_join = cfg.group_join_base + cfg.group_join_engaged * eng ** 2
        new = idx[outside & (rng.random(idx.size) < p_join)]
        com.joined[new] = d
        inside = (com.joined[idx] >= 0) & (com.joined[idx] < d) & (com.left[idx] < 0)
        leaving = idx[inside & (rng.random(idx.size) < cfg.group_leave)]
        com.left[leaving] = d
        inside &= com.left[idx] < 0
        core = self.pop.creator[idx] & (eng > 0.4)               # the few who start most threads
        rate = np.where(core, 0.3, 0.002) * (0.5 + eng)
        threads = np.where(inside, rng.poisson(rate), 0)
        first = idx[(threads > 0) & ~com.posted[idx]]
        com.posted[first] = True
        fast = rng.random(first.size) < cfg.fast_reply_share
        self.fast_first[first[fast]] = True
        com.answered_until[first] = d + ANSWER_EFFECT_DAYS
        com.answered_effect[first] = np.where(fast, cfg.fast_reply_churn_multiplier, cfg.slow_reply_churn_multiplier)
        return threads

    def remember(self, day: _Day, idx: np.ndarray, n_orders: np.ndarray) -> None:
        self.st.last_active[idx] = day.d
        self.st.last_order[idx[n_orders > 0]] = day.d


def simulate(config: WorldConfig, pop: Population, factors: DayFactors, rng: np.random.Generator,
             campaigns: list[Campaign], days: range, state: LoopState | None = None,
             bug_window: tuple[int, int] | None = None, progress: Any = None) -> tuple[Activity, LoopState]:
    """Day by day: churn, come back, be active, buy, join campaigns and community groups.

    Runs ``days`` of the period (the history, or a forward run from the end of it
    with ``state`` carried over); ``bug_window`` is [first, last) day of the buggy release
    (default: from ``config.bug_start_day`` to past the end of the data).
    """
    st = (LoopState.fresh(pop.n) if state is None else state).ready(pop.n, campaigns)
    loop = _Loop(config, pop, factors, rng, campaigns, st,
                 bug_window or (config.bug_start_day, config.days + 10_000))
    users, days_out, orders, threads = [], [], [], []
    for d in days:
        day = loop.today(d)
        loop.send_offers(day)
        ex = loop.exposure(day)
        loop.churn_and_return(day, ex)
        idx = loop.active(day, ex)
        loop.claim_coupons(day, idx)
        n_orders = loop.purchases(day, loop.holding(day, ex), idx)
        loop.spend_coupons(day, idx, n_orders)
        loop.joins(day, idx)
        threads.append(loop.community(day, idx))
        users.append(idx)
        days_out.append(np.full(idx.size, d))
        orders.append(n_orders)
        loop.remember(day, idx, n_orders)
        if progress is not None:
            progress.update(1)
    act = Activity(np.concatenate(users), np.concatenate(days_out), np.concatenate(orders), st.joined, st.targets,
                   np.concatenate(threads), loop.fast_first, st.community)
    return act, st


def app_version(config: WorldConfig, day: np.ndarray) -> np.ndarray:
    """Version installed at signup: 3.0.0, then 3.1.0, then the buggy release (not yet fixed when the data ends)."""
    versions = np.full(day.size, APP_VERSIONS[0][0], dtype=object)
    for version, first in APP_VERSIONS[1:]:
        versions[day >= first] = version
    versions[day >= config.bug_start_day] = config.bug_version
    return versions

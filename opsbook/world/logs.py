"""What each system of the company recorded of the simulated history, as typed intermediate results.

Each builder takes the history (``History``) and what it needs explicitly, draws
from its own random stream, and returns a small dataclass of row arrays (user
indexes, seconds since the start of the period) for ``opsbook.world.tables``
to turn into tables. Nothing is left on shared objects between builders.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .campaigns import CHECK_INS_FOR_REWARD, COUPON_USE, LOTTERY_WIN_SHARE, REWARDS, Campaign, sale_window
from .config import WorldConfig
from .identity import IdentityPools
from .model import DAY, Activity, DayFactors, Population, app_version
from .observe import CONTENT_EVENTS, ET, Events, Sessions, make_events, place_in_sessions, sessions_of_users
from .schema import CHANNELS, CONTENT_TYPES, FEEDBACK_CATEGORIES, ORDER_CATEGORIES, PLATFORMS, TOPICS

# Content that sells: the order category a topic's readers buy (travel and fitness sell nothing here).
TOPIC_CATEGORY = {"beauty": "beauty", "fashion": "fashion", "food": "food", "digital": "digital", "home": "home",
                  "parenting": "baby"}
CONTENT_INFLUENCE = 0.35       # chance that an order follows the topic of the last item its buyer viewed that day


@dataclass
class History:
    """The behavioural part of a world: days, users, what they did, and their sessions."""

    config: WorldConfig
    factors: DayFactors
    pop: Population
    act: Activity
    sess: Sessions
    campaigns: list[Campaign]

    def pair_index(self, user: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the (user, day) activity pair; pairs are sorted by day then user."""
        key = self.act.day * self.pop.n + self.act.user
        return np.searchsorted(key, day * self.pop.n + user)

    def campaign(self, kind: str) -> Campaign:
        """The one-off campaign of a kind."""
        return next(c for c in self.campaigns if c.kind == kind)


# --- events added to sessions ---------------------------------------------------------------------------------

def activation_follows(h: History, tenure: np.ndarray, rng: np.random.Generator) -> Events:
    """Aha users follow >= aha_follows accounts in their first days; others follow at most two."""
    cfg, pop = h.config, h.pop
    early = tenure < cfg.aha_days
    users = np.arange(pop.n)
    count = np.where(pop.aha, cfg.aha_follows + rng.poisson(1.5, pop.n),
                     rng.binomial(cfg.aha_follows - 1, 0.35, pop.n))
    u, s = sessions_of_users(h.sess, early, users, count, rng)
    return make_events(u, place_in_sessions(h.sess, s, rng), s, ET["follow"])


@dataclass
class CampaignLog:
    events: Events
    check_in_pairs: np.ndarray      # activity pairs with a check_in event


def campaign_events(h: History) -> CampaignLog:
    """campaign_join when a user joins; check_in on each active day of the check-in challenge."""
    act, parts = h.act, []
    for camp in h.campaigns:
        jd = act.joined[camp.campaign_id]
        who = np.flatnonzero(jd >= 0)
        s = h.pair_index(who, jd[who])          # first session of the pair
        parts.append(make_events(who, h.sess.start[s] + 1, s, ET["campaign_join"], campaign=camp.campaign_id))
    check = h.campaign("check_in")
    pairs = np.flatnonzero(act.joined_by(check))
    parts.append(make_events(act.user[pairs], h.sess.start[pairs] + 2, pairs, ET["check_in"],
                             campaign=check.campaign_id))
    return CampaignLog(Events.concat(parts), pairs)


@dataclass
class InviteLog:
    inviter: np.ndarray
    invitee: np.ndarray            # -1: never signed up
    time: np.ndarray
    pair: np.ndarray
    referrer: np.ndarray           # per user: the first inviter (-1 none)
    events: Events


def invites(h: History, rng: np.random.Generator) -> InviteLog:
    """Referral users were invited by an active user a few days before they signed up; more invites were
    sent that never converted. Members of a community group invite more while they are in it."""
    cfg, pop, act = h.config, h.pop, h.act
    camp = h.campaign("invite")
    com = act.community
    member = (com.joined[act.user] >= 0) & (com.joined[act.user] < act.day) & (
        (com.left[act.user] < 0) | (com.left[act.user] > act.day))
    propensity = (pop.engagement[act.user] * np.where(act.joined_by(camp), 6.0, 1.0)
                  * np.where(member, cfg.group_invite_multiplier, 1.0))
    referral = np.flatnonzero(pop.channel == CHANNELS.index("referral"))
    sent_day = np.maximum(pop.signup_day[referral] - rng.geometric(0.4, referral.size), 0)
    inviter_pair = _draw_pairs_on_days(act, sent_day, propensity, rng)
    # Some invitees were invited by a second friend too; they count for the first inviter only.
    second = rng.random(referral.size) < 0.15
    sec_day = np.minimum(sent_day[second] + rng.integers(0, 3, int(second.sum())),
                         pop.signup_day[referral[second]] - 1)
    second_pair = _draw_pairs_on_days(act, sec_day, propensity, rng)
    n_lost = int(round(referral.size * 3.2))
    lost_pair = rng.choice(act.user.size, size=n_lost, p=propensity / propensity.sum())

    pairs = np.concatenate([inviter_pair, second_pair, lost_pair])
    invitee = np.concatenate([referral, referral[second], np.full(n_lost, -1)])
    time = place_in_sessions(h.sess, pairs, rng)
    ok = (pairs >= 0) & (act.user[np.maximum(pairs, 0)] != invitee) & (time < cfg.days * DAY)
    pairs, invitee, time = pairs[ok], invitee[ok], time[ok]
    inviter = act.user[pairs]
    order = np.lexsort((inviter, time))
    inviter, invitee, time, pairs = inviter[order], invitee[order], time[order], pairs[order]
    # The referrer is the earliest inviter of each invitee.
    who, first = np.unique(invitee, return_index=True)
    referrer = np.full(pop.n, -1)
    referrer[who[who >= 0]] = inviter[first[who >= 0]]
    # Users with no possible inviter (none active on the day) are re-labelled app_store.
    lost = (pop.channel == CHANNELS.index("referral")) & (referrer < 0)
    pop.channel[lost] = CHANNELS.index("app_store")
    return InviteLog(inviter, invitee, time, pairs, referrer, make_events(inviter, time, pairs, ET["invite"]))


def _draw_pairs_on_days(act: Activity, days: np.ndarray, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One active pair per requested day, drawn with the given pair weights (-1 if none)."""
    lo = np.searchsorted(act.day, days, side="left")
    hi = np.searchsorted(act.day, days, side="right")
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    target = cum[lo] + rng.random(days.size) * (cum[hi] - cum[lo])
    pick = np.searchsorted(cum, target, side="right") - 1
    return np.where(hi > lo, np.clip(pick, lo, np.maximum(hi - 1, lo)), -1)


@dataclass
class OrderTimes:
    """When each order happened (its details are drawn once content views are known)."""

    pair: np.ndarray
    nth: np.ndarray                # 0 for the first order of the day
    user: np.ndarray
    time: np.ndarray
    events: Events


def order_times(h: History) -> OrderTimes:
    """Orders on active days, with add_to_cart and purchase events at the end of the day's first session."""
    act = h.act
    pairs = np.repeat(np.arange(act.user.size), act.orders)
    nth = np.arange(pairs.size) - np.repeat(np.cumsum(act.orders) - act.orders, act.orders)
    user = act.user[pairs]
    end = h.sess.start[pairs] + h.sess.duration[pairs]
    cart_t = end + 20 + 90 * nth
    time = cart_t + 30
    events = Events.concat([make_events(user, cart_t, pairs, ET["add_to_cart"]),
                            make_events(user, time, pairs, ET["purchase"])])
    return OrderTimes(pairs, nth, user, time, events)


@dataclass
class OrderLog:
    user: np.ndarray
    time: np.ndarray
    amount: np.ndarray
    category: np.ndarray
    coupon_used: np.ndarray
    campaign: np.ndarray           # -1 none


def order_details(h: History, times: OrderTimes, last_topic: np.ndarray, rng: np.random.Generator) -> OrderLog:
    """Category, amount and coupon of each order. ``last_topic`` is the topic of the last content item the buyer
    viewed that day before buying (-1 none): content sells its own category sometimes (内容转化)."""
    cfg, pop, act = h.config, h.pop, h.act
    pairs, nth, user = times.pair, times.nth, times.user
    pref = np.where(pop.female[user], 0, 1)
    cat_p = np.array([[0.30, 0.28, 0.15, 0.08, 0.12, 0.07], [0.08, 0.18, 0.22, 0.32, 0.14, 0.06]])
    cum = np.cumsum(cat_p, axis=1)[pref]
    category = (rng.random(pairs.size)[:, None] > cum).sum(axis=1)
    category = np.minimum(category, len(ORDER_CATEGORIES) - 1)
    sells = np.array([ORDER_CATEGORIES.index(TOPIC_CATEGORY[t]) if t in TOPIC_CATEGORY else -1 for t in TOPICS])
    led = np.where(last_topic >= 0, sells[np.maximum(last_topic, 0)], -1)
    follow = (led >= 0) & (rng.random(pairs.size) < CONTENT_INFLUENCE)
    category = np.where(follow, led, category)
    log_mean = np.array([4.4, 4.6, 3.6, 5.6, 4.5, 4.5])[category]
    taste = rng.lognormal(0, 0.45, pop.n)            # some users buy dearer things
    amount = rng.lognormal(log_mean, 0.6) * taste[user]
    day = act.day[pairs]
    lo, hi = sale_window(cfg.calendar())
    amount = np.where((day >= lo) & (day < hi), amount * 0.85, amount)
    coupon_used = np.zeros(pairs.size, bool)
    campaign = np.full(pairs.size, -1)
    draw = rng.random(pairs.size)
    for camp in h.campaigns:
        if camp.kind not in COUPON_USE:
            continue
        eligible = act.joined_by(camp)[pairs] & ~coupon_used
        if camp.recurring:                           # one coupon per run: the first order after claiming it
            first = np.zeros(pairs.size, bool)
            cand = np.flatnonzero(eligible)
            _, at = np.unique(user[cand], return_index=True)
            first[cand[at]] = True
            eligible = first
        else:
            eligible &= nth == 0
        use = eligible & (draw < COUPON_USE[camp.kind])
        coupon_used |= use
        campaign[use] = camp.campaign_id
        amount = np.where(use, np.maximum(amount - REWARDS[camp.kind].amount, 1.0), amount)
    return OrderLog(user, times.time, np.round(amount, 2), category, coupon_used, campaign)


@dataclass
class BotLog:
    signup: np.ndarray
    index: np.ndarray              # user indexes after the humans
    events: Events


def bots(h: History, rng: np.random.Generator) -> BotLog:
    """Fake accounts that sign up within one night-time hour and flood likes, then vanish."""
    cfg = h.config
    n = int(round(cfg.bot_share * cfg.n_users))
    signup = cfg.bot_day * DAY + cfg.bot_hour * 3600 + np.sort(rng.integers(0, 3600, n))
    n_ev = 1 + rng.poisson(cfg.bot_events, n)
    owner = np.repeat(np.arange(n), n_ev)
    first = np.cumsum(n_ev) - n_ev
    gaps = rng.exponential(6, owner.size).astype(np.int64) + 1
    gaps[first] = 0
    csum = np.cumsum(gaps)
    time = signup[owner] + csum - csum[first][owner]
    kind = np.where(rng.random(owner.size) < 0.6, ET["like"], ET["view_content"])
    kind[rng.random(owner.size) < 0.06] = ET["follow"]
    kind[first] = ET["open_app"]
    bot_ids = h.pop.n + np.arange(n)                    # indices after the humans
    session = -1 - np.arange(n)                          # one session each, numbered later
    return BotLog(signup, bot_ids, make_events(bot_ids[owner], time, session[owner], kind))


@dataclass
class ContentLog:
    created: np.ndarray
    author: np.ndarray             # -1 official
    type: np.ndarray
    topic: np.ndarray
    viral: np.ndarray              # indexes of the planted hits


def content(h: History, events: Events, rng: np.random.Generator) -> tuple[ContentLog, Events]:
    """Official items and UGC posts; then which item each view/like/share/... was about. Drops content
    events that match no item and everything inside the tracking outage."""
    cfg = h.config
    days = np.arange(-30, cfg.days)
    n_off = rng.poisson(4, days.size)
    off_day = np.repeat(days, n_off)
    off_time = off_day * DAY + rng.integers(8 * 3600, 21 * 3600, off_day.size)
    posts = np.flatnonzero(events.kind == ET["post"])
    created = np.concatenate([off_time, events.time[posts]])
    author = np.concatenate([np.full(off_time.size, -1), events.user[posts]])
    n = created.size
    ctype = rng.choice(len(CONTENT_TYPES), size=n, p=[0.45, 0.30, 0.10, 0.15])
    ctype[: off_time.size] = rng.choice(len(CONTENT_TYPES), size=off_time.size, p=[0.3, 0.3, 0.4, 0.0])
    topic = rng.choice(len(TOPICS), size=n, p=[0.18, 0.17, 0.13, 0.12, 0.14, 0.1, 0.08, 0.08])
    order = np.lexsort((author, created))
    created, author, ctype, topic = created[order], author[order], ctype[order], topic[order]
    origin = np.concatenate([np.full(off_time.size, -1), posts])[order]   # event index of each post
    events.content[origin[origin >= 0]] = np.flatnonzero(origin >= 0)

    hour = (created % DAY) // 3600
    ugc_video = (author >= 0) & (ctype == CONTENT_TYPES.index("video"))
    window = (created >= 14 * DAY) & (created < (cfg.days - 14) * DAY)
    for pool in (ugc_video & window & (hour >= 19) & (hour < 23), ugc_video & window, (author >= 0) & window):
        if pool.sum() >= cfg.viral_hits:
            break
    viral = np.sort(rng.choice(np.flatnonzero(pool), size=min(cfg.viral_hits, int(pool.sum())), replace=False))

    _assign_items(h, events, created, author, ctype, viral, rng)
    keep = ~(np.isin(events.kind, CONTENT_EVENTS) & (events.content < 0))
    lo = cfg.outage_day * DAY + cfg.outage_hours[0] * 3600
    hi = cfg.outage_day * DAY + cfg.outage_hours[1] * 3600
    keep &= ~((events.time >= lo) & (events.time < hi))
    return ContentLog(created, author, ctype, topic, viral), events.take(np.flatnonzero(keep))


def _assign_items(h: History, events: Events, created: np.ndarray, author: np.ndarray, ctype: np.ndarray,
                  viral: np.ndarray, rng: np.random.Generator) -> None:
    """Which item each content event was about: humans by appeal and freshness (hits take a big slice of their
    first week, shares go to shareable items), bots at random. Fills ``events.content`` in place."""
    n = created.size
    appeal = rng.lognormal(0, 0.7, n) * np.where(author < 0, 2.0, 1.0)
    share_appeal = rng.lognormal(0, 0.4, n) * np.where(ctype == CONTENT_TYPES.index("video"), 1.5, 1.0)
    is_viral = np.zeros(n, bool)
    is_viral[viral] = True
    share_appeal[is_viral] *= 6.0
    half_life = np.array([3.0, 2.0, 6.0, 10.0])[ctype]

    need = np.isin(events.kind, CONTENT_EVENTS) & (events.content < 0)
    bot = need & (events.user >= h.pop.n)     # bots hit items at random, not by popularity
    live = np.searchsorted(created, events.time[bot])
    events.content[bot] = (rng.random(live.size) * live).astype(np.int64)
    idx = np.flatnonzero(need & ~bot)
    ev_day = events.time[idx] // DAY
    order = np.argsort(ev_day, kind="stable")
    idx, ev_day = idx[order], ev_day[order]
    bounds = np.searchsorted(ev_day, np.arange(h.config.days + 1))
    for d in range(h.config.days):
        lo, hi = bounds[d], bounds[d + 1]
        if hi == lo:
            continue
        m = int(np.searchsorted(created, d * DAY))
        age = d - created[:m] / DAY
        w = appeal[:m] * np.exp(-age / half_life[:m])
        hit = is_viral[:m] & (age < 7)       # a hit takes a big slice of the day's views
        w = np.where(hit, 1.2 * w[~hit].sum() * np.exp(-age / 2.5), w)
        here = idx[lo:hi]
        shares = events.kind[here] == ET["share"]
        for mask, weight in ((~shares, w), (shares, w * share_appeal[:m])):
            k = int(mask.sum())
            if k:
                events.content[here[mask]] = rng.choice(m, size=k, p=weight / weight.sum())


def last_viewed_topic(events: Events, items: ContentLog, user: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Per (user, time): topic of the last item the user viewed that day before ``time`` (-1 none)."""
    views = np.flatnonzero((events.kind == ET["view_content"]) & (events.content >= 0))
    v_user, v_time = events.user[views], events.time[views]
    order = np.lexsort((v_time, v_user))
    v_user, v_time, v_item = v_user[order], v_time[order], events.content[views][order]
    key_v = v_user.astype(np.float64) * 1e9 + v_time
    pos = np.searchsorted(key_v, user.astype(np.float64) * 1e9 + time, side="left") - 1
    ok = (pos >= 0) & (v_user[np.maximum(pos, 0)] == user) & (v_time[np.maximum(pos, 0)] // DAY == time // DAY)
    return np.where(ok, items.topic[v_item[np.maximum(pos, 0)]], -1)


@dataclass
class RewardLog:
    user: np.ndarray
    campaign: np.ndarray
    time: np.ndarray
    type: np.ndarray
    amount: np.ndarray
    duplicate_rows: np.ndarray      # the planted double payouts
    ineligible_rows: np.ndarray     # the planted payouts to users who never joined


def rewards(h: History, check_in_pairs: np.ndarray, referrer: np.ndarray, rng: np.random.Generator) -> RewardLog:
    """Payouts per campaign rules, plus the planted duplicate and ineligible invite rewards."""
    cfg, pop, act = h.config, h.pop, h.act
    rows = {"user": [], "campaign": [], "time": [], "type": [], "amount": []}

    def pay(user: np.ndarray, camp: Campaign, time: np.ndarray) -> None:
        reward = REWARDS[camp.kind]
        rows["user"].append(np.asarray(user))
        rows["campaign"].append(np.full(np.size(user), camp.campaign_id))
        rows["time"].append(np.asarray(time, dtype=np.int64))
        rows["type"].append(np.full(np.size(user), reward.reward_type, dtype=object))
        rows["amount"].append(np.full(np.size(user), reward.amount))

    check = h.campaign("check_in")
    nth = _rank_within(act.user[check_in_pairs])
    done = check_in_pairs[nth == CHECK_INS_FOR_REWARD - 1]
    pay(act.user[done], check, h.sess.start[done] + 2)
    for camp in h.campaigns:
        if camp.kind in ("coupon", "sale_618") or camp.recurring:      # a coupon is booked when it is claimed
            who = np.flatnonzero(act.joined[camp.campaign_id] >= 0)
            s = h.pair_index(who, act.joined[camp.campaign_id][who])
            pay(who, camp, h.sess.start[s] + 3)
    lot = h.campaign("lottery")
    entrants = np.flatnonzero(act.joined[lot.campaign_id] >= 0)
    winners = entrants[rng.random(entrants.size) < LOTTERY_WIN_SHARE]
    pay(winners, lot, np.full(winners.size, lot.end_day * DAY + 10 * 3600))

    inv = h.campaign("invite")
    referral = np.flatnonzero(referrer >= 0)
    by = referrer[referral]
    jd = act.joined[inv.campaign_id][by]
    sday = pop.signup_day[referral]
    earned = (jd >= 0) & (jd <= sday) & (sday >= inv.start_day) & (sday < inv.end_day)
    user, time = by[earned], pop.signup_sec[referral[earned]] + 300
    pay(user, inv, time)
    dup = np.flatnonzero(rng.random(user.size) < cfg.duplicate_claim_share)
    pay(user[dup], inv, time[dup] + rng.integers(60, 1800, dup.size))
    in_window = (act.day >= inv.start_day) & (act.day < inv.end_day)
    never = in_window & (act.joined[inv.campaign_id][act.user] < 0)
    cand = np.flatnonzero(never)
    bad = rng.choice(cand, size=min(cfg.ineligible_claims, cand.size), replace=False)
    pay(act.user[bad], inv, h.sess.start[bad] + 600)

    out = {k: np.concatenate(v) for k, v in rows.items()}
    n = out["user"].size
    return RewardLog(**out, duplicate_rows=np.arange(n - bad.size - dup.size, n - bad.size),
                     ineligible_rows=np.arange(n - bad.size, n))


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2... for successive occurrences of each value, in the given order."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rank_sorted = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size]))
    out = np.empty(g.size, np.int64)
    out[order] = rank_sorted
    return out


@dataclass
class FeedbackLog:
    user: np.ndarray
    time: np.ndarray
    category: np.ndarray
    score: np.ndarray
    blank: np.ndarray


def feedback(h: History, rng: np.random.Generator) -> FeedbackLog:
    """Occasional feedback on active days; the buggy release shows up as angry bug reports."""
    cfg, pop, act = h.config, h.pop, h.act
    u, d = act.user, act.day
    bug = (pop.platform[u] == PLATFORMS.index(cfg.bug_platform)) & (d >= cfg.bug_start_day)
    pick = np.flatnonzero(rng.random(u.size) < np.where(bug, 0.05, 0.012))
    n = pick.size
    base = np.array([0.10, 0.14, 0.20, 0.14, 0.10, 0.19, 0.13])
    cat = rng.choice(len(FEEDBACK_CATEGORIES), size=n, p=base)
    angry = bug[pick] & (rng.random(n) < 0.6)
    cat[angry] = FEEDBACK_CATEGORIES.index("bug")
    penalty = np.array([3.0, 2.0, 1.5, 1.5, 2.5, 0.0, 1.0])[cat]
    mean = 7.6 + 4.0 * (pop.engagement[u[pick]] - 0.3) - penalty
    score = np.clip(np.round(rng.normal(mean, 1.8)), 0, 10).astype(np.int64)
    blank = rng.random(n) < 0.08
    time = place_in_sessions(h.sess, pick, rng)
    inside = time < cfg.days * DAY
    return FeedbackLog(u[pick][inside], time[inside], cat[inside], score[inside], blank[inside])


@dataclass
class People:
    """Every account, humans then bots (indexes), with who they are."""

    user_id: np.ndarray            # per index
    order: np.ndarray              # rows of the users table in signup order (indexes)
    signup: np.ndarray
    channel: np.ndarray
    platform: np.ndarray
    female: np.ndarray
    age: np.ndarray
    city_key: np.ndarray
    city: np.ndarray
    tier: np.ndarray
    name: np.ndarray
    phone: np.ndarray
    email: np.ndarray
    device_id: np.ndarray
    referrer: np.ndarray           # index, -1 none
    version: np.ndarray


def people(h: History, bot_log: BotLog, referrer: np.ndarray, pools: IdentityPools,
           rng: np.random.Generator, private: np.random.Generator) -> People:
    """Identity of every account; direct identifiers (phone, email, device) come from their own stream."""
    cfg, pop = h.config, h.pop
    n_b = bot_log.index.size
    signup = np.concatenate([pop.signup_sec, bot_log.signup])
    channel = np.concatenate([pop.channel, np.full(n_b, CHANNELS.index("app_store"))])
    platform = np.concatenate([pop.platform, np.full(n_b, PLATFORMS.index("android"))])
    female = np.concatenate([pop.female, rng.random(n_b) < 0.5])
    age = np.concatenate([pop.age, rng.integers(18, 40, n_b)])
    order = np.argsort(signup, kind="stable")           # index -> row
    user_id = np.empty(order.size, np.int64)
    user_id[order] = 100_001 + np.arange(order.size)     # ids follow signup order
    city_key, city, tier = pools.cities(rng, order.size)
    name, given_roman, surname_roman = pools.names(rng, female)
    phone = pools.phones(private, order.size)
    email = pools.emails(private, given_roman, surname_roman)
    device = pools.device_ids(private, platform == PLATFORMS.index("ios"))
    return People(user_id, order, signup, channel, platform, female, age, city_key, city, tier, name, phone, email,
                  device, np.concatenate([referrer, np.full(n_b, -1)]), app_version(cfg, signup // DAY))

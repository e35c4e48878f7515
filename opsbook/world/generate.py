"""Generate a world: run the model once and record it as the course's tables.

``generate_world(WorldConfig(...))`` returns a :class:`World` (typed frames
plus the instructor's answer key); ``write_world`` stores it as gzip CSV with
a checksum manifest and a data dictionary.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import io
from .config import WorldConfig
from .identity import IdentityPools
from .model import (CHANNEL_PROFILES, DAY, Activity, DayFactors, LoopState, Population, app_version,
                    campaigns_for, day_factors, draw_population, simulate)
from .observe import (CONTENT_EVENTS, ET, Events, Sessions, draw_sessions, filler_events, make_events,
                      place_in_sessions, sessions_of_users)
from .schema import (CHANNELS, CONTENT_TYPES, EVENT_TYPES, EXPERIMENTS, FEEDBACK_CATEGORIES, ORDER_CATEGORIES,
                     PLATFORMS, TABLES, TOPICS)

GENERATOR_VERSION = "1"
STEPS_AFTER_LOOP = 8
STREAMS = ("population", "simulate", "sessions", "events", "content", "orders", "campaigns", "invites",
           "feedback", "identity", "bots", "spend", "experiments")


@dataclass
class World:
    config: WorldConfig
    tables: dict[str, pd.DataFrame]
    answer_key: dict


def generate_world(config: WorldConfig = WorldConfig(), progress: bool = True) -> World:
    """Simulate the product over ``config.days`` days and return its tables."""
    _check_config(config)
    rng = random_streams(config)
    with tqdm(total=config.days + STEPS_AFTER_LOOP, desc="world", unit="step", disable=not progress,
              leave=False) as bar:
        return _Builder(config, rng, bar).run()


def random_streams(config: WorldConfig) -> dict[str, np.random.Generator]:
    """One independent generator per part of the model, all from the world's seed."""
    seeds = np.random.SeedSequence(config.seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, seeds)}


def run_history(config: WorldConfig, rng: dict[str, np.random.Generator], progress=None
                ) -> tuple[DayFactors, Population, Activity, LoopState]:
    """The behavioural part of a world: who signed up and what they did each day."""
    factors = day_factors(config)
    pop = draw_population(config, rng["population"], factors)
    act, state = simulate(config, pop, factors, rng["simulate"], campaigns_for(config), range(config.days),
                          progress=progress)
    return factors, pop, act, state


def _check_config(config: WorldConfig) -> None:
    if config.n_users < 500:
        raise ValueError(f"n_users must be at least 500 (got {config.n_users}): smaller worlds cannot show the planted effects")
    if config.days < 175:
        raise ValueError(f"days must be at least 175 (got {config.days}): the period must include the 618 festival")
    if config.locale not in ("en_US", "zh_CN"):
        raise ValueError(f"locale must be en_US or zh_CN (got {config.locale!r})")


class _Builder:
    """One generation run; each method adds a piece and leaves its arrays on ``self``."""

    def __init__(self, config: WorldConfig, rng: dict[str, np.random.Generator], bar) -> None:
        self.config, self.rng, self.bar = config, rng, bar
        self.camps = {c.kind: c for c in campaigns_for(config)}
        self.start = np.datetime64(config.start.isoformat(), "s")

    def step(self) -> None:
        self.bar.update(1)

    def run(self) -> World:
        cfg = self.config
        self.factors, self.pop, self.act, _ = run_history(cfg, self.rng, progress=self.bar)
        self.sess: Sessions = draw_sessions(self.pop, self.act, self.rng["sessions"])
        tenure = self.act.day[self.sess.pair] - self.pop.signup_day[self.sess.user]
        parts = [filler_events(self.pop, self.sess, tenure, cfg.aha_days, self.rng["events"])]
        parts.append(self._activation_follows(tenure))
        self.step()
        parts.append(self._campaign_events())
        self.step()
        invites, invite_events = self._invites()
        parts.append(invite_events)
        self.step()
        orders, order_events = self._orders()
        parts.append(order_events)
        self.step()
        events = Events.concat(parts)
        # A late-night session can run past midnight of the last day: the data stops at the period's end.
        end = cfg.days * DAY
        events = events.take(np.flatnonzero(events.time < end))
        orders = {k: v[orders["time"] < end] for k, v in orders.items()}
        bots, bot_events = self._bots()
        events = Events.concat([events, bot_events])
        content, events = self._content(events)
        self.step()
        rewards = self._rewards(invites)
        feedback = self._feedback()
        self.step()
        users = self._users(bots)
        tables = self._tables(users, events, orders, content, invites, rewards, feedback)
        self.step()
        key = self._answer_key(tables, rewards)
        self.step()
        self.step()
        return World(cfg, tables, key)

    # --- helpers -----------------------------------------------------------------
    def time(self, sec: np.ndarray) -> np.ndarray:
        return self.start + np.asarray(sec, dtype="int64").astype("timedelta64[s]")

    def pair_index(self, user: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Index of the (user, day) activity pair; pairs are sorted by day then user."""
        key = self.act.day * self.pop.n + self.act.user
        return np.searchsorted(key, day * self.pop.n + user)

    # --- events added to sessions ----------------------------------------------------
    def _activation_follows(self, tenure: np.ndarray) -> Events:
        """Aha users follow >= aha_follows accounts in their first days; others follow at most two."""
        cfg, pop, rng = self.config, self.pop, self.rng["events"]
        early = tenure < cfg.aha_days
        users = np.arange(pop.n)
        count = np.where(pop.aha, cfg.aha_follows + rng.poisson(1.5, pop.n), rng.binomial(cfg.aha_follows - 1, 0.35, pop.n))
        u, s = sessions_of_users(self.sess, early, users, count, rng)
        return make_events(u, place_in_sessions(self.sess, s, rng), s, ET["follow"])

    def _campaign_events(self) -> Events:
        """campaign_join when a user joins; check_in on each active day of the check-in challenge."""
        rng, act, parts = self.rng["campaigns"], self.act, []
        for camp in self.camps.values():
            jd = act.joined[camp.campaign_id]
            who = np.flatnonzero(jd >= 0)
            s = self.pair_index(who, jd[who])          # first session of the pair
            parts.append(make_events(who, self.sess.start[s] + 1, s, ET["campaign_join"], campaign=camp.campaign_id))
        check = self.camps["check_in"]
        pairs = np.flatnonzero(act.joined_by(check))
        parts.append(make_events(act.user[pairs], self.sess.start[pairs] + 2, pairs, ET["check_in"],
                                 campaign=check.campaign_id))
        self.checkin_pairs = pairs
        return Events.concat(parts)

    def _invites(self) -> tuple[dict, Events]:
        """Referral users were invited by an active user a few days before they signed up;
        more invites were sent that never converted."""
        cfg, pop, act, rng = self.config, self.pop, self.act, self.rng["invites"]
        camp = self.camps["invite"]
        propensity = pop.engagement[act.user] * np.where(act.joined_by(camp), 6.0, 1.0)
        referral = np.flatnonzero(pop.channel == CHANNELS.index("referral"))
        sent_day = np.maximum(pop.signup_day[referral] - rng.geometric(0.4, referral.size), 0)
        inviter_pair = self._draw_pairs_on_days(sent_day, propensity, rng)
        # Some invitees were invited by a second friend too; they count for the first inviter only.
        second = rng.random(referral.size) < 0.15
        sec_day = np.minimum(sent_day[second] + rng.integers(0, 3, int(second.sum())), pop.signup_day[referral[second]] - 1)
        second_pair = self._draw_pairs_on_days(sec_day, propensity, rng)
        n_lost = int(round(referral.size * 3.2))
        lost_pair = rng.choice(act.user.size, size=n_lost, p=propensity / propensity.sum())

        pairs = np.concatenate([inviter_pair, second_pair, lost_pair])
        invitee = np.concatenate([referral, referral[second], np.full(n_lost, -1)])
        time = place_in_sessions(self.sess, pairs, rng)
        ok = (pairs >= 0) & (act.user[np.maximum(pairs, 0)] != invitee) & (time < cfg.days * DAY)
        pairs, invitee, time = pairs[ok], invitee[ok], time[ok]
        inviter = act.user[pairs]
        order = np.lexsort((inviter, time))
        inv = {"inviter": inviter[order], "invitee": invitee[order], "time": time[order], "pair": pairs[order]}
        # The referrer is the earliest inviter of each invitee.
        who, first = np.unique(inv["invitee"], return_index=True)
        self.referrer = np.full(pop.n, -1)
        self.referrer[who[who >= 0]] = inv["inviter"][first[who >= 0]]
        # Users with no possible inviter (none active on the day) are re-labelled app_store.
        lost = (pop.channel == CHANNELS.index("referral")) & (self.referrer < 0)
        pop.channel[lost] = CHANNELS.index("app_store")
        events = make_events(inv["inviter"], inv["time"], inv["pair"], ET["invite"])
        return inv, events

    def _draw_pairs_on_days(self, days: np.ndarray, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One active pair per requested day, drawn with the given pair weights (-1 if none)."""
        act = self.act
        lo = np.searchsorted(act.day, days, side="left")
        hi = np.searchsorted(act.day, days, side="right")
        cum = np.concatenate([[0.0], np.cumsum(weight)])
        target = cum[lo] + rng.random(days.size) * (cum[hi] - cum[lo])
        pick = np.searchsorted(cum, target, side="right") - 1
        return np.where(hi > lo, np.clip(pick, lo, np.maximum(hi - 1, lo)), -1)

    def _orders(self) -> tuple[dict, Events]:
        """Orders on active days, with add_to_cart and purchase events at the end of the day's first session."""
        cfg, pop, act, rng = self.config, self.pop, self.act, self.rng["orders"]
        pairs = np.repeat(np.arange(act.user.size), act.orders)
        nth = np.arange(pairs.size) - np.repeat(np.cumsum(act.orders) - act.orders, act.orders)
        user = act.user[pairs]
        end = self.sess.start[pairs] + self.sess.duration[pairs]
        cart_t = end + 20 + 90 * nth
        time = cart_t + 30
        pref = np.where(pop.female[user], 0, 1)
        cat_p = np.array([[0.30, 0.28, 0.15, 0.08, 0.12, 0.07], [0.08, 0.18, 0.22, 0.32, 0.14, 0.06]])
        cum = np.cumsum(cat_p, axis=1)[pref]
        category = (rng.random(pairs.size)[:, None] > cum).sum(axis=1)
        category = np.minimum(category, len(ORDER_CATEGORIES) - 1)
        log_mean = np.array([4.4, 4.6, 3.6, 5.6, 4.5, 4.5])[category]
        taste = rng.lognormal(0, 0.45, pop.n)            # some users buy dearer things
        amount = rng.lognormal(log_mean, 0.6) * taste[user]
        day = act.day[pairs]
        amount = np.where((day >= 151) & (day < 169), amount * 0.85, amount)
        coupon_used = np.zeros(pairs.size, bool)
        campaign = np.full(pairs.size, -1)
        for kind, value, p_use in (("coupon", 15.0, 0.85), ("sale_618", 10.0, 0.6)):
            camp = self.camps[kind]
            eligible = act.joined_by(camp)[pairs] & (nth == 0) & ~coupon_used
            use = eligible & (rng.random(pairs.size) < p_use)
            coupon_used |= use
            campaign[use] = camp.campaign_id
            amount = np.where(use, np.maximum(amount - value, 1.0), amount)
        orders = {"user": user, "time": time, "amount": np.round(amount, 2), "category": category,
                  "coupon_used": coupon_used, "campaign": campaign}
        events = Events.concat([
            make_events(user, cart_t, pairs, ET["add_to_cart"]),
            make_events(user, time, pairs, ET["purchase"]),
        ])
        return orders, events

    def _bots(self) -> tuple[dict, Events]:
        """Fake accounts that sign up within one night-time hour and flood likes, then vanish."""
        cfg, rng = self.config, self.rng["bots"]
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
        bot_ids = self.pop.n + np.arange(n)                 # indices after the humans
        session = -1 - np.arange(n)                          # one session each, numbered later
        return ({"signup": signup, "index": bot_ids},
                make_events(bot_ids[owner], time, session[owner], kind))

    # --- content ------------------------------------------------------------------------
    def _content(self, events: Events) -> tuple[dict, Events]:
        """Official items and UGC posts; then which item each view/like/share/... was about."""
        cfg, rng = self.config, self.rng["content"]
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

        appeal = rng.lognormal(0, 0.7, n) * np.where(author < 0, 2.0, 1.0)
        share_appeal = rng.lognormal(0, 0.4, n) * np.where(ctype == CONTENT_TYPES.index("video"), 1.5, 1.0)
        is_viral = np.zeros(n, bool)
        is_viral[viral] = True
        share_appeal[is_viral] *= 6.0
        half_life = np.array([3.0, 2.0, 6.0, 10.0])[ctype]

        need = np.isin(events.kind, CONTENT_EVENTS) & (events.content < 0)
        bot = need & (events.user >= self.pop.n)     # bots hit items at random, not by popularity
        live = np.searchsorted(created, events.time[bot])
        events.content[bot] = (rng.random(live.size) * live).astype(np.int64)
        idx = np.flatnonzero(need & ~bot)
        ev_day = events.time[idx] // DAY
        order = np.argsort(ev_day, kind="stable")
        idx, ev_day = idx[order], ev_day[order]
        bounds = np.searchsorted(ev_day, np.arange(cfg.days + 1))
        for d in range(cfg.days):
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
        # Drop content events that could not be matched (nothing published yet), then the outage.
        keep = ~(np.isin(events.kind, CONTENT_EVENTS) & (events.content < 0))
        lo = cfg.outage_day * DAY + cfg.outage_hours[0] * 3600
        hi = cfg.outage_day * DAY + cfg.outage_hours[1] * 3600
        keep &= ~((events.time >= lo) & (events.time < hi))
        events = events.take(np.flatnonzero(keep))
        content = {"created": created, "author": author, "type": ctype, "topic": topic, "viral": viral}
        return content, events

    # --- rewards and feedback ---------------------------------------------------------------
    def _rewards(self, invites: dict) -> dict:
        """Payouts per campaign rules, plus the planted duplicate and ineligible invite rewards."""
        cfg, pop, act, rng = self.config, self.pop, self.act, self.rng["campaigns"]
        rows = {"user": [], "campaign": [], "time": [], "type": [], "amount": []}

        def pay(user, campaign, time, kind, amount):
            rows["user"].append(np.asarray(user))
            rows["campaign"].append(np.full(np.size(user), campaign))
            rows["time"].append(np.asarray(time, dtype=np.int64))
            rows["type"].append(np.full(np.size(user), kind, dtype=object))
            rows["amount"].append(np.broadcast_to(amount, np.size(user)).astype(float))

        check = self.camps["check_in"]
        pairs = self.checkin_pairs
        nth = _rank_within(act.user[pairs])
        seventh = pairs[nth == 6]
        pay(act.user[seventh], check.campaign_id, self.sess.start[seventh] + 2, "points", 3.0)
        for kind, reward, value in (("coupon", "coupon", 15.0), ("sale_618", "coupon", 10.0)):
            camp = self.camps[kind]
            who = np.flatnonzero(act.joined[camp.campaign_id] >= 0)
            s = self.pair_index(who, act.joined[camp.campaign_id][who])
            pay(who, camp.campaign_id, self.sess.start[s] + 3, reward, value)
        lot = self.camps["lottery"]
        entrants = np.flatnonzero(act.joined[lot.campaign_id] >= 0)
        winners = entrants[rng.random(entrants.size) < 0.08]
        pay(winners, lot.campaign_id, np.full(winners.size, lot.end_day * DAY + 10 * 3600), "gift", 30.0)

        inv = self.camps["invite"]
        referral = np.flatnonzero(self.referrer >= 0)
        by = self.referrer[referral]
        jd = act.joined[inv.campaign_id][by]
        sday = pop.signup_day[referral]
        earned = (jd >= 0) & (jd <= sday) & (sday >= inv.start_day) & (sday < inv.end_day)
        user, time = by[earned], pop.signup_sec[referral[earned]] + 300
        first_row = sum(np.size(u) for u in rows["user"])
        pay(user, inv.campaign_id, time, "cash", 10.0)
        dup = np.flatnonzero(rng.random(user.size) < cfg.duplicate_claim_share)
        pay(user[dup], inv.campaign_id, time[dup] + rng.integers(60, 1800, dup.size), "cash", 10.0)
        in_window = (act.day >= inv.start_day) & (act.day < inv.end_day)
        never = in_window & (act.joined[inv.campaign_id][act.user] < 0)
        cand = np.flatnonzero(never)
        bad = rng.choice(cand, size=min(cfg.ineligible_claims, cand.size), replace=False)
        pay(act.user[bad], inv.campaign_id, self.sess.start[bad] + 600, "cash", 10.0)

        out = {k: np.concatenate(v) for k, v in rows.items()}
        n_dup_start = first_row + user.size
        out["planted_duplicate_rows"] = np.arange(n_dup_start, n_dup_start + dup.size)
        out["planted_ineligible_rows"] = np.arange(n_dup_start + dup.size, n_dup_start + dup.size + bad.size)
        return out

    def _feedback(self) -> dict:
        """Occasional feedback on active days; the buggy release shows up as angry bug reports."""
        cfg, pop, act, rng = self.config, self.pop, self.act, self.rng["feedback"]
        u, d = act.user, act.day
        bug = (pop.platform[u] == PLATFORMS.index(cfg.bug_platform)) & (d >= cfg.bug_start_day) & (d < cfg.bug_start_day + cfg.bug_days)
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
        time = place_in_sessions(self.sess, pick, rng)
        inside = time < cfg.days * DAY
        return {"user": u[pick][inside], "time": time[inside], "category": cat[inside],
                "score": score[inside], "blank": blank[inside]}

    # --- tables -------------------------------------------------------------------------------
    def _users(self, bots: dict) -> dict:
        cfg, pop = self.config, self.pop
        rng = self.rng["identity"]
        self.pools = IdentityPools.build(cfg.locale, cfg.seed)
        n_b = bots["index"].size
        signup = np.concatenate([pop.signup_sec, bots["signup"]])
        channel = np.concatenate([pop.channel, np.full(n_b, CHANNELS.index("app_store"))])
        platform = np.concatenate([pop.platform, np.full(n_b, PLATFORMS.index("android"))])
        female = np.concatenate([pop.female, rng.random(n_b) < 0.5])
        age = np.concatenate([pop.age, rng.integers(18, 40, n_b)])
        order = np.argsort(signup, kind="stable")           # index -> row
        user_id = np.empty(order.size, np.int64)
        user_id[order] = 100_001 + np.arange(order.size)     # ids follow signup order
        self.user_id = user_id
        city, tier = self.pools.cities(rng, order.size)
        names = self.pools.names(rng, female)
        referrer = np.concatenate([self.referrer, np.full(n_b, -1)])
        return {
            "order": order, "signup": signup, "channel": channel, "platform": platform, "female": female,
            "age": age, "city": city, "tier": tier, "name": names,
            "referrer": np.where(referrer >= 0, user_id[np.maximum(referrer, 0)], -1),
            "bot_ids": user_id[bots["index"]],
        }

    def _tables(self, users, events: Events, orders, content, invites, rewards, feedback) -> dict[str, pd.DataFrame]:
        cfg, pop, rng = self.config, self.pop, self.rng["identity"]
        uid = self.user_id
        o = users["order"]
        t = {}
        t["users"] = io.to_frame(TABLES["users"], {
            "user_id": uid[o], "name": users["name"][o], "gender": np.where(users["female"][o], "female", "male"),
            "age": users["age"][o], "city": users["city"][o], "city_tier": users["tier"][o],
            "signup_time": self.time(users["signup"][o]),
            "channel": np.array(CHANNELS, dtype=object)[users["channel"][o]],
            "platform": np.array(PLATFORMS, dtype=object)[users["platform"][o]],
            "app_version": app_version(cfg, users["signup"][o] // DAY),
            "referrer_id": _nullable(users["referrer"][o]),
        })

        # Sessions get ids in time order; bot sessions (negative placeholders) come along.
        n_s = self.sess.start.size
        s_user = np.concatenate([self.sess.user, self._bot_index(events)])
        s_start = np.concatenate([self.sess.start, self._bot_starts(events, users)])
        s_order = np.lexsort((s_user, s_start))
        s_id = np.empty(s_order.size, np.int64)
        s_id[s_order] = 1 + np.arange(s_order.size)
        sess_idx = np.where(events.session >= 0, events.session, n_s - 1 - events.session)
        prio = (events.kind != ET["open_app"]).astype(np.int64)
        e_order = np.lexsort((prio, events.session, events.user, events.time))
        ev = events.take(e_order)
        sess_idx = sess_idx[e_order]
        t["events"] = io.to_frame(TABLES["events"], {
            "user_id": uid[ev.user], "event_time": self.time(ev.time), "session_id": s_id[sess_idx],
            "event_type": np.array(EVENT_TYPES, dtype=object)[ev.kind],
            "content_id": _nullable(np.where(ev.content >= 0, ev.content + 1, -1)),
            "campaign_id": _nullable(ev.campaign),
        })

        oo = np.lexsort((orders["user"], orders["time"]))
        t["orders"] = io.to_frame(TABLES["orders"], {
            "order_id": 1 + np.arange(oo.size), "user_id": uid[orders["user"][oo]], "order_time": self.time(orders["time"][oo]),
            "amount": orders["amount"][oo], "category": np.array(ORDER_CATEGORIES, dtype=object)[orders["category"][oo]],
            "coupon_used": orders["coupon_used"][oo],
            "campaign_id": _nullable(orders["campaign"][oo]),
        })
        t["channel_spend"] = self._channel_spend(t["users"])

        author = content["author"]
        t["content"] = io.to_frame(TABLES["content"], {
            "content_id": 1 + np.arange(author.size),
            "author_id": _nullable(np.where(author >= 0, uid[np.maximum(author, 0)], -1)),
            "is_official": author < 0,
            "content_type": np.array(CONTENT_TYPES, dtype=object)[content["type"]],
            "topic": np.array(TOPICS, dtype=object)[content["topic"]],
            "created_time": self.time(content["created"]),
            "title": self.pools.titles(rng, np.array(TOPICS, dtype=object)[content["topic"]]),
        })
        self.viral_ids = (content["viral"] + 1).tolist()

        camps = list(self.camps.values())
        scale = cfg.n_users / 1000
        t["campaigns"] = io.to_frame(TABLES["campaigns"], {
            "campaign_id": [c.campaign_id for c in camps], "name": [c.name for c in camps],
            "campaign_type": [c.kind for c in camps],
            "start_time": self.time(np.array([c.start_day * DAY for c in camps])),
            "end_time": self.time(np.array([c.end_day * DAY for c in camps])),
            "budget": [round(c.budget_per_1k_users * scale, -2) for c in camps],
            "rules": [c.rules for c in camps], "target_group": [c.target_group for c in camps],
            "holdout_share": [c.holdout_share for c in camps],
        })
        coupon_targets = self.act.targets[self.camps["coupon"].campaign_id]
        targeted = np.flatnonzero(coupon_targets >= 0)
        targeted = targeted[np.argsort(uid[targeted])]
        t["campaign_targets"] = io.to_frame(TABLES["campaign_targets"], {
            "campaign_id": np.full(targeted.size, self.camps["coupon"].campaign_id), "user_id": uid[targeted],
            "group": np.where(coupon_targets[targeted] == 1, "treatment", "holdout"),
        })

        ro = np.lexsort((rewards["user"], rewards["time"]))
        self.reward_row_to_id = np.empty(ro.size, np.int64)
        self.reward_row_to_id[ro] = 1 + np.arange(ro.size)
        t["campaign_rewards"] = io.to_frame(TABLES["campaign_rewards"], {
            "reward_id": 1 + np.arange(ro.size), "user_id": uid[rewards["user"][ro]],
            "campaign_id": rewards["campaign"][ro], "reward_time": self.time(rewards["time"][ro]),
            "reward_type": rewards["type"][ro], "amount": rewards["amount"][ro],
        })

        fo = np.lexsort((feedback["user"], feedback["time"]))
        cats = np.array(FEEDBACK_CATEGORIES, dtype=object)[feedback["category"][fo]]
        t["feedback"] = io.to_frame(TABLES["feedback"], {
            "feedback_id": 1 + np.arange(fo.size), "user_id": uid[feedback["user"][fo]],
            "feedback_time": self.time(feedback["time"][fo]),
            "nps_score": _nullable(np.where(feedback["blank"][fo], -1, feedback["score"][fo])),
            "category": cats, "comment": self.pools.comments(rng, cats, feedback["score"][fo]),
        })
        t["experiments"] = self._experiments()

        inv_contacts = self.pools.contacts(self.rng["invites"], invites["inviter"].size)
        signed = invites["invitee"]
        # Each invitee's contact is the same on all their invites.
        contact_of = self.pools.contacts(self.rng["invites"], pop.n)
        inv_contacts = np.where(signed >= 0, contact_of[np.maximum(signed, 0)], inv_contacts)
        t["invites"] = io.to_frame(TABLES["invites"], {
            "invite_id": 1 + np.arange(signed.size), "inviter_id": uid[invites["inviter"]],
            "invitee_contact": inv_contacts, "sent_time": self.time(invites["time"]),
            "signed_up_user_id": _nullable(np.where(signed >= 0, uid[np.maximum(signed, 0)], -1)),
        })
        self.bot_user_ids = users["bot_ids"]
        return t

    def _bot_index(self, events: Events) -> np.ndarray:
        bot = events.session < 0
        n_b = int(-events.session[bot].min()) if bot.any() else 0
        out = np.empty(n_b, np.int64)
        out[-1 - events.session[bot]] = events.user[bot]
        return out

    def _bot_starts(self, events: Events, users: dict) -> np.ndarray:
        bot = events.session < 0
        n_b = int(-events.session[bot].min()) if bot.any() else 0
        out = np.full(n_b, np.iinfo(np.int64).max)
        np.minimum.at(out, -1 - events.session[bot], events.time[bot])
        return out

    def _channel_spend(self, users: pd.DataFrame) -> pd.DataFrame:
        cfg, rng = self.config, self.rng["spend"]
        day = ((users["signup_time"] - pd.Timestamp(cfg.start)).dt.days).to_numpy()
        ch = pd.Categorical(users["channel"], categories=CHANNELS).codes
        signups = np.zeros((cfg.days, len(CHANNELS)), np.int64)
        np.add.at(signups, (day, ch), 1)
        prof = [CHANNEL_PROFILES[c] for c in CHANNELS]
        sr = np.array([p.signup_rate for p in prof])
        cti = np.array([p.click_to_install for p in prof])
        ctr = np.array([p.ctr for p in prof])
        cpi = np.array([p.cpi for p in prof])
        installs = signups + rng.poisson(signups * (1 / sr - 1) + 0.5)
        clicks = installs + rng.poisson(installs * (1 / cti - 1) + 1)
        impressions = clicks + rng.poisson(clicks * (1 / ctr - 1) + 5)
        spend = np.round(installs * cpi * rng.lognormal(0, 0.08, installs.shape), 2)
        dates = np.repeat(self.start.astype("datetime64[D]") + np.arange(cfg.days), len(CHANNELS))
        return io.to_frame(TABLES["channel_spend"], {
            "date": dates, "channel": np.tile(np.array(CHANNELS, dtype=object), cfg.days),
            "spend": spend.ravel(), "impressions": impressions.ravel(), "clicks": clicks.ravel(),
            "installs": installs.ravel(),
        })

    def _experiments(self) -> pd.DataFrame:
        cfg, pop, act, rng = self.config, self.pop, self.act, self.rng["experiments"]
        tenure = act.day - pop.signup_day[act.user]
        returned = np.zeros(pop.n, bool)
        returned[act.user[(tenure >= 1) & (tenure <= 7)]] = True
        frames = []
        for name in EXPERIMENTS:
            var = pop.experiment_variant[name]
            who = np.flatnonzero(var >= 0)
            if name == cfg.srm_experiment:       # a logging bug lost some control exposures
                lost = (var[who] == 0) & (rng.random(who.size) < cfg.srm_drop_share)
                who = who[~lost]
            frames.append(pd.DataFrame({
                "experiment": name, "user_id": self.user_id[who], "variant": np.where(var[who] == 1, "treatment", "control"),
                "exposure_time": self.time(pop.signup_sec[who]), "converted": returned[who],
            }))
        df = pd.concat(frames, ignore_index=True).sort_values(["experiment", "user_id"], ignore_index=True)
        return io.to_frame(TABLES["experiments"], {c: df[c].to_numpy() for c in df.columns})

    def _answer_key(self, tables: dict, rewards: dict) -> dict:
        cfg = self.config
        day = lambda d: str(np.datetime64(cfg.start.isoformat()) + d)
        out = self.config.as_dict()
        out["ab_effects"] = dict(cfg.ab_effects)
        out.update({
            "generator_version": GENERATOR_VERSION,
            "poor_channel": {"channel": cfg.poor_channel, "why": "cheapest CAC, lowest engagement and highest churn"},
            "activation": {"rule": f">= {cfg.aha_follows} follow events in days 0..{cfg.aha_days - 1} after signup",
                           "churn_multiplier": cfg.aha_churn_multiplier},
            "coupon_campaign": {"campaign_id": self.camps["coupon"].campaign_id, "purchase_multiplier": cfg.coupon_lift,
                                "holdout_share": cfg.coupon_holdout_share},
            "tracking_outage": {"start": f"{day(cfg.outage_day)} {cfg.outage_hours[0]:02d}:00:00",
                                "end": f"{day(cfg.outage_day)} {cfg.outage_hours[1]:02d}:00:00"},
            "bot_spike": {"day": day(cfg.bot_day), "hour": cfg.bot_hour, "user_ids": self.bot_user_ids.tolist()},
            "buggy_release": {"platform": cfg.bug_platform, "version": cfg.bug_version, "fixed_in": cfg.fix_version,
                              "start": day(cfg.bug_start_day),
                              "end": day(min(cfg.bug_start_day + cfg.bug_days, cfg.days)),
                              "fixed_within_data": cfg.bug_start_day + cfg.bug_days <= cfg.days},
            "experiments": {"with_effect": "onboarding_v2", "no_effect": "feed_layout", "sample_ratio_mismatch": cfg.srm_experiment},
            "bad_reward_claims": {
                "duplicate_reward_ids": sorted(self.reward_row_to_id[rewards["planted_duplicate_rows"]].tolist()),
                "ineligible_reward_ids": sorted(self.reward_row_to_id[rewards["planted_ineligible_rows"]].tolist()),
            },
            "viral_content_ids": self.viral_ids,
            "viral_traits": "UGC short videos, most posted 19:00-23:00, with a high share rate in their first week",
            "row_counts": {name: int(len(df)) for name, df in tables.items()},
        })
        return out


def _nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Int64 array with missing values where ``values`` is negative."""
    values = np.asarray(values, dtype=np.int64)
    return pd.arrays.IntegerArray(np.maximum(values, 0), values < 0)


def _rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2... for successive occurrences of each value, in the given order."""
    order = np.argsort(groups, kind="stable")
    g = groups[order]
    starts = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    rank_sorted = np.arange(g.size) - np.repeat(starts, np.diff(np.r_[starts, g.size]))
    out = np.empty(g.size, np.int64)
    out[order] = rank_sorted
    return out


WORLD_META = "world.json"
META_FIELDS = ("seed", "n_users", "days", "start", "locale")


def world_meta(config: WorldConfig) -> dict:
    """What a world folder says about how it was made: enough to re-run its model, nothing planted."""
    meta = {k: v for k, v in config.as_dict().items() if k in META_FIELDS}
    meta["generator_version"] = GENERATOR_VERSION
    return meta


def config_from_meta(meta: dict) -> WorldConfig:
    """The config that made a world folder (planted parameters are the course defaults)."""
    if str(meta.get("generator_version")) != GENERATOR_VERSION:
        raise ValueError(f"world made by generator version {meta.get('generator_version')}, "
                         f"this is version {GENERATOR_VERSION}: regenerate it with `opsbook world generate`")
    fields = {k: meta[k] for k in META_FIELDS}
    fields["start"] = date.fromisoformat(fields["start"])
    return WorldConfig(**fields)


def write_world(world: World, out_dir: str | Path, key_path: str | Path | None = None) -> list[Path]:
    """Write every table, ``MANIFEST.sha256`` and the data dictionary ``README.md`` to ``out_dir``;
    the answer key goes to ``key_path`` (default: ``<out_dir>-answer-key.json`` beside it)."""
    from .dictionary import render_dictionary

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [io.write_table(world.tables[name], TABLES[name], out) for name in TABLES]
    meta = world_meta(world.config)
    paths.append(out / WORLD_META)
    paths[-1].write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    io.write_manifest(out, [p.name for p in paths])
    readme = out / "README.md"
    readme.write_text(render_dictionary(meta, {n: len(df) for n, df in world.tables.items()}), encoding="utf-8")
    key = Path(key_path) if key_path else out.parent / f"{out.name}-answer-key.json"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text(json.dumps(world.answer_key, indent=1, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8")
    return paths + [readme, key]


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

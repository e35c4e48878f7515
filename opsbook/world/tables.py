"""One builder per table: typed frames (``io.to_frame``) from the generator's intermediate results.

Each builder gets a ``Clock`` (to turn seconds into timestamps and user indexes
into ids) and exactly the results it records; ids that other tables refer to
are returned with the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import io
from .campaigns import Campaign
from .community import Community
from .identity import IdentityPools
from .leads import Leads
from .logs import BotLog, ContentLog, FeedbackLog, History, InviteLog, OrderLog, People, RewardLog
from .model import CHANNEL_PROFILES, DAY, app_version
from .observe import ET, Events
from .schema import (
    CHANNELS,
    CONTENT_TYPES,
    EVENT_TYPES,
    EXPERIMENTS,
    FEEDBACK_CATEGORIES,
    ORDER_CATEGORIES,
    PLATFORMS,
    TABLES,
    TOPICS,
)


@dataclass
class Clock:
    """Seconds since the start of the period -> timestamps; user index -> user id."""

    start: np.datetime64
    user_id: np.ndarray

    def time(self, sec: np.ndarray) -> np.ndarray:
        return self.start + np.asarray(sec, dtype="int64").astype("timedelta64[s]")

    def maybe_time(self, sec: np.ndarray) -> np.ndarray:
        """Timestamps, NaT where ``sec`` is negative (a missing time)."""
        sec = np.asarray(sec, dtype="int64")
        return np.where(sec >= 0, self.time(np.maximum(sec, 0)), np.datetime64("NaT"))

    def uid(self, index: np.ndarray) -> np.ndarray:
        return self.user_id[np.asarray(index)]


def nullable(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Int64 array with missing values where ``values`` is negative."""
    values = np.asarray(values, dtype=np.int64)
    return pd.arrays.IntegerArray(np.maximum(values, 0), values < 0)


def _names(values: tuple[str, ...], codes: np.ndarray) -> np.ndarray:
    return np.array(values, dtype=object)[codes]


def users(clock: Clock, p: People) -> pd.DataFrame:
    o = p.order
    return io.to_frame(TABLES["users"], {
        "user_id": p.user_id[o], "name": p.name[o], "gender": np.where(p.female[o], "female", "male"),
        "age": p.age[o], "city": p.city[o], "city_tier": p.tier[o], "signup_time": clock.time(p.signup[o]),
        "channel": _names(CHANNELS, p.channel[o]), "platform": _names(PLATFORMS, p.platform[o]),
        "app_version": p.version[o],
        "referrer_id": nullable(np.where(p.referrer[o] >= 0, p.user_id[np.maximum(p.referrer[o], 0)], -1)),
        "phone": p.phone[o], "email": p.email[o], "device_id": p.device_id[o],
    })


def events(clock: Clock, h: History, ev: Events, bot_log: BotLog) -> pd.DataFrame:
    """Sessions get ids in time order; bot sessions (negative placeholders) come along."""
    n_s = h.sess.start.size
    bot = ev.session < 0
    n_b = int(-ev.session[bot].min()) if bot.any() else 0
    bot_user = np.empty(n_b, np.int64)
    bot_user[-1 - ev.session[bot]] = ev.user[bot]
    bot_start = np.full(n_b, np.iinfo(np.int64).max)
    np.minimum.at(bot_start, -1 - ev.session[bot], ev.time[bot])
    s_user = np.concatenate([h.sess.user, bot_user])
    s_start = np.concatenate([h.sess.start, bot_start])
    s_order = np.lexsort((s_user, s_start))
    s_id = np.empty(s_order.size, np.int64)
    s_id[s_order] = 1 + np.arange(s_order.size)
    sess_idx = np.where(ev.session >= 0, ev.session, n_s - 1 - ev.session)
    prio = (ev.kind != ET["open_app"]).astype(np.int64)
    e_order = np.lexsort((prio, ev.session, ev.user, ev.time))
    ev = ev.take(e_order)
    sess_idx = sess_idx[e_order]
    return io.to_frame(TABLES["events"], {
        "user_id": clock.uid(ev.user), "event_time": clock.time(ev.time), "session_id": s_id[sess_idx],
        "event_type": _names(EVENT_TYPES, ev.kind),
        "content_id": nullable(np.where(ev.content >= 0, ev.content + 1, -1)),
        "campaign_id": nullable(ev.campaign),
    })


def orders(clock: Clock, o: OrderLog) -> pd.DataFrame:
    oo = np.lexsort((o.user, o.time))
    return io.to_frame(TABLES["orders"], {
        "order_id": 1 + np.arange(oo.size), "user_id": clock.uid(o.user[oo]), "order_time": clock.time(o.time[oo]),
        "amount": o.amount[oo], "category": _names(ORDER_CATEGORIES, o.category[oo]),
        "coupon_used": o.coupon_used[oo], "campaign_id": nullable(o.campaign[oo]),
    })


def channel_spend(clock: Clock, h: History, users_frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    cfg = h.config
    day = ((users_frame["signup_time"] - pd.Timestamp(cfg.start)).dt.days).to_numpy()
    ch = pd.Categorical(users_frame["channel"], categories=CHANNELS).codes
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
    dates = np.repeat(clock.start.astype("datetime64[D]") + np.arange(cfg.days), len(CHANNELS))
    return io.to_frame(TABLES["channel_spend"], {
        "date": dates, "channel": np.tile(np.array(CHANNELS, dtype=object), cfg.days),
        "spend": spend.ravel(), "impressions": impressions.ravel(), "clicks": clicks.ravel(),
        "installs": installs.ravel(),
    })


def content(clock: Clock, c: ContentLog, pools: IdentityPools, rng: np.random.Generator) -> pd.DataFrame:
    topics = _names(TOPICS, c.topic)
    return io.to_frame(TABLES["content"], {
        "content_id": 1 + np.arange(c.author.size),
        "author_id": nullable(np.where(c.author >= 0, clock.uid(np.maximum(c.author, 0)), -1)),
        "is_official": c.author < 0, "content_type": _names(CONTENT_TYPES, c.type), "topic": topics,
        "created_time": clock.time(c.created), "title": pools.titles(rng, topics),
    })


def campaigns(clock: Clock, camps: list[Campaign], n_users: int) -> pd.DataFrame:
    scale = n_users / 1000
    return io.to_frame(TABLES["campaigns"], {
        "campaign_id": [c.campaign_id for c in camps], "name": [c.name for c in camps],
        "campaign_type": [c.kind for c in camps],
        "start_time": clock.time(np.array([c.start_day * DAY for c in camps])),
        "end_time": clock.time(np.array([c.end_day * DAY for c in camps])),
        "budget": [round(c.budget_per_1k_users * scale, -2) for c in camps],
        "rules": [c.rules for c in camps], "target_group": [c.target_group for c in camps],
        "holdout_share": [c.holdout_share for c in camps],
    })


def campaign_targets(clock: Clock, h: History) -> pd.DataFrame:
    parts = []
    for camp in h.campaigns:
        if not camp.target:
            continue
        groups = h.act.targets[camp.campaign_id]
        who = np.flatnonzero(groups >= 0)
        parts.append(pd.DataFrame({"campaign_id": camp.campaign_id, "user_id": clock.uid(who),
                                   "group": np.where(groups[who] == 1, "treatment", "holdout")}))
    df = pd.concat(parts, ignore_index=True).sort_values(["campaign_id", "user_id"], ignore_index=True)
    return io.to_frame(TABLES["campaign_targets"], {c: df[c].to_numpy() for c in df.columns})


def campaign_rewards(clock: Clock, r: RewardLog) -> tuple[pd.DataFrame, np.ndarray]:
    """The table, and the reward id of each row of ``r``."""
    ro = np.lexsort((r.user, r.time))
    ids = np.empty(ro.size, np.int64)
    ids[ro] = 1 + np.arange(ro.size)
    return io.to_frame(TABLES["campaign_rewards"], {
        "reward_id": 1 + np.arange(ro.size), "user_id": clock.uid(r.user[ro]), "campaign_id": r.campaign[ro],
        "reward_time": clock.time(r.time[ro]), "reward_type": r.type[ro], "amount": r.amount[ro],
    }), ids


def feedback(clock: Clock, h: History, f: FeedbackLog, pools: IdentityPools, rng: np.random.Generator) -> pd.DataFrame:
    fo = np.lexsort((f.user, f.time))
    cats = _names(FEEDBACK_CATEGORIES, f.category[fo])
    user = f.user[fo]
    versions = app_version(h.config, f.time[fo] // DAY)       # the version out that day
    ios = h.pop.platform[user] == PLATFORMS.index("ios")
    return io.to_frame(TABLES["feedback"], {
        "feedback_id": 1 + np.arange(fo.size), "user_id": clock.uid(user), "feedback_time": clock.time(f.time[fo]),
        "nps_score": nullable(np.where(f.blank[fo], -1, f.score[fo])), "category": cats,
        "comment": pools.comments(rng, cats, f.score[fo], versions, ios),
    })


def experiments(clock: Clock, h: History, rng: np.random.Generator) -> pd.DataFrame:
    cfg, pop, act = h.config, h.pop, h.act
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
            "experiment": name, "user_id": clock.uid(who), "variant": np.where(var[who] == 1, "treatment", "control"),
            "exposure_time": clock.time(pop.signup_sec[who]), "converted": returned[who],
        }))
    df = pd.concat(frames, ignore_index=True).sort_values(["experiment", "user_id"], ignore_index=True)
    return io.to_frame(TABLES["experiments"], {c: df[c].to_numpy() for c in df.columns})


def invites(clock: Clock, inv: InviteLog, p: People, pools: IdentityPools, rng: np.random.Generator) -> pd.DataFrame:
    """A signed-up invitee's contact is their own phone, masked; other invitees' numbers are unknown people's."""
    signed = inv.invitee
    contact = pools.contacts(rng, signed.size)
    mine = signed >= 0
    contact[mine] = pools.mask(p.phone[signed[mine]])
    return io.to_frame(TABLES["invites"], {
        "invite_id": 1 + np.arange(signed.size), "inviter_id": clock.uid(inv.inviter), "invitee_contact": contact,
        "sent_time": clock.time(inv.time),
        "signed_up_user_id": nullable(np.where(mine, clock.uid(np.maximum(signed, 0)), -1)),
    })


@dataclass
class CommunityIds:
    """Ids given to the community's rows (per row of ``Community``)."""

    group_id: np.ndarray
    thread_id: np.ndarray
    reply_id: np.ndarray


def community(clock: Clock, c: Community, pools: IdentityPools, rng: np.random.Generator
              ) -> tuple[dict[str, pd.DataFrame], CommunityIds]:
    """community_groups, group_members, threads, replies, votes and moderation_actions."""
    n_groups = c.group_kind.size
    group_id = 1 + np.arange(n_groups)
    city = np.array([pools.city_name(k) if k else None for k in c.group_city], dtype=object)
    topic = np.where(c.group_kind == "city", None, c.group_kind).astype(object)
    names = np.array([pools.group_name(kind, key if kind == "city" else kind)
                      for kind, key in zip(c.group_kind, c.group_city)], dtype=object)
    t = {"community_groups": io.to_frame(TABLES["community_groups"], {
        "group_id": group_id, "name": names, "group_type": np.where(c.group_kind == "city", "city", "interest"),
        "city": city, "topic": topic, "created_time": clock.time(c.group_created)})}

    mo = np.lexsort((clock.uid(c.member_user), c.member_group))
    t["group_members"] = io.to_frame(TABLES["group_members"], {
        "group_id": group_id[c.member_group[mo]], "user_id": clock.uid(c.member_user[mo]),
        "join_time": clock.time(c.member_join[mo]), "leave_time": clock.maybe_time(c.member_leave[mo])})

    to = np.lexsort((c.thread_user, c.thread_time))
    thread_id = np.empty(to.size, np.int64)
    thread_id[to] = 1 + np.arange(to.size)
    kinds = c.group_kind[c.thread_group]
    group_city = np.array([pools.city_name(k) if k else "" for k in c.group_city], dtype=object)[c.thread_group]
    titles = pools.thread_titles(rng, kinds, group_city)
    t["threads"] = io.to_frame(TABLES["threads"], {
        "thread_id": 1 + np.arange(to.size), "group_id": group_id[c.thread_group[to]],
        "author_id": clock.uid(c.thread_user[to]), "created_time": clock.time(c.thread_time[to]), "title": titles[to]})

    ro = np.lexsort((c.reply_user, c.reply_time))
    reply_id = np.empty(ro.size, np.int64)
    reply_id[ro] = 1 + np.arange(ro.size)
    t["replies"] = io.to_frame(TABLES["replies"], {
        "reply_id": 1 + np.arange(ro.size), "thread_id": thread_id[c.reply_thread[ro]],
        "user_id": clock.uid(c.reply_user[ro]), "reply_time": clock.time(c.reply_time[ro])})

    vo = np.lexsort((clock.uid(c.vote_user), thread_id[c.vote_thread]))
    t["votes"] = io.to_frame(TABLES["votes"], {
        "thread_id": thread_id[c.vote_thread[vo]], "user_id": clock.uid(c.vote_user[vo]),
        "vote_time": clock.time(c.vote_time[vo])})

    target = np.where(c.mod_kind == "thread", thread_id[np.minimum(c.mod_target, thread_id.size - 1)],
                      reply_id[np.minimum(c.mod_target, max(reply_id.size - 1, 0))] if reply_id.size else 0)
    ao = np.lexsort((target, c.mod_time))
    t["moderation_actions"] = io.to_frame(TABLES["moderation_actions"], {
        "action_id": 1 + np.arange(ao.size), "target_type": c.mod_kind[ao], "target_id": target[ao],
        "action_time": clock.time(c.mod_time[ao]), "rule": c.mod_rule[ao],
        "moderator": np.where(c.mod_staff[ao], "staff", "auto")})
    return t, CommunityIds(group_id, thread_id, reply_id)


def leads(clock: Clock, ld: Leads) -> pd.DataFrame:
    return io.to_frame(TABLES["leads"], {
        "lead_id": 1 + np.arange(ld.created.size), "created_time": clock.time(ld.created), "source": ld.source,
        "company": ld.company, "contact_phone": ld.phone, "clean_status": ld.status, "tier": ld.tier,
        "first_followup_time": clock.maybe_time(ld.followup), "converted_time": clock.maybe_time(ld.converted),
        "amount": ld.amount})

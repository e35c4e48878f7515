"""Community groups (社群) observed: groups, members, threads, replies, votes and moderation.

The day loop decided who joined and left a group and who started threads on which
day (and whether a first thread was answered within the hour: it changed that
author's churn). This module draws the rest consistently with that activity:
which group each member is in, when replies and votes arrive (topic heat decays
with a fixed half-life), who writes them (members active that day, a few loud
ones most of the time), a planted departure of one core member, a spam wave and
the moderation that follows. Times are seconds since the start of the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import WorldConfig
from .identity import CITIES
from .model import DAY, Activity, Population
from .observe import Sessions, place_in_sessions
from .schema import MODERATION_RULES, TOPICS

GROUP_CITIES = tuple(c[0] for c in CITIES if c[2] >= 4)      # the big cities have a city group
CITY_GROUP_SHARE = 0.4                                        # members in such a city pick its group this often
TOPIC_TASTE = {True: (0.22, 0.16, 0.12, 0.04, 0.18, 0.08, 0.12, 0.08),    # female, in TOPICS order
               False: (0.03, 0.18, 0.16, 0.28, 0.06, 0.20, 0.04, 0.05)}
SILENT_SHARE = 0.6             # members who never write, whatever happens (they read and vote)
UNANSWERED_SHARE = 0.4          # of threads not answered within the hour, those that get no reply at all
REPLIES_PER_THREAD = 5.0
VOTES_PER_MESSAGE = 1.2
MAX_DELAY = 7 * DAY
BASE_REMOVAL = 0.012
SPAM_REMOVED = 0.9


@dataclass
class Community:
    """Row arrays of the community tables (user indexes, seconds), and what was planted."""

    group_kind: np.ndarray        # "city" or a topic
    group_city: np.ndarray        # city key or None
    group_created: np.ndarray
    member_group: np.ndarray      # per membership row
    member_user: np.ndarray
    member_join: np.ndarray
    member_leave: np.ndarray      # -1 = still a member
    thread_group: np.ndarray
    thread_user: np.ndarray
    thread_time: np.ndarray
    thread_spam: np.ndarray
    reply_thread: np.ndarray
    reply_user: np.ndarray
    reply_time: np.ndarray
    reply_spam: np.ndarray
    vote_thread: np.ndarray
    vote_user: np.ndarray
    vote_time: np.ndarray
    mod_kind: np.ndarray          # "thread" / "reply"
    mod_target: np.ndarray        # index into threads / replies
    mod_time: np.ndarray
    mod_rule: np.ndarray
    mod_staff: np.ndarray
    core_group: int
    core_user: int
    core_day: int
    spammers: np.ndarray


@dataclass
class _Threads:
    """Threads in time order: group, author, day and second posted, answered within the hour, author's first."""

    group: np.ndarray
    user: np.ndarray
    day: np.ndarray
    time: np.ndarray
    fast: np.ndarray
    first: np.ndarray

    def take(self, keep: np.ndarray) -> _Threads:
        return _Threads(*(getattr(self, f)[keep] for f in ("group", "user", "day", "time", "fast", "first")))


@dataclass
class _Departure:
    group: int
    user: int = -1
    day: int = -1


@dataclass
class _Posts:
    """Replies (or votes): thread index, user, second."""

    thread: np.ndarray
    user: np.ndarray
    time: np.ndarray

    def take(self, keep: np.ndarray) -> _Posts:
        return _Posts(self.thread[keep], self.user[keep], self.time[keep])


def build_community(cfg: WorldConfig, pop: Population, act: Activity, sess: Sessions, city_key: np.ndarray,
                    rng: np.random.Generator) -> Community:
    """Everything the community server stored, drawn from the loop's decisions."""
    com = act.community
    kinds, cities = _groups()
    members = np.flatnonzero(com.joined >= 0)
    group_of = np.full(pop.n, -1)
    group_of[members] = _choose_groups(pop, members, city_key, kinds, cities, rng)
    n_groups = kinds.size
    created = -rng.integers(30, 400, n_groups) * DAY + 10 * 3600 + rng.integers(0, 8 * 3600, n_groups)
    pair_of = _PairIndex(act)
    left = com.left.copy()

    threads = _threads(cfg, act, sess, group_of, rng)
    core, threads = _core_departure(cfg, act, pair_of, threads, left, n_groups, rng)
    writers, readers = _voices(pop, act, com.joined, left, group_of, threads, core, n_groups, rng)
    tau = cfg.reply_half_life_hours * 3600 / np.log(2)
    replies = _replies(cfg, threads, core, writers, tau, rng)

    # The spam wave: a handful of hijacked accounts flood their groups with ads for a few days.
    n = threads.user.size
    (st_group, st_user, st_time), spam_replies, spammers = _spam_wave(cfg, writers, threads.group, threads.time,
                                                                        group_of, rng)
    thread_spam = np.r_[np.zeros(n, bool), np.ones(st_user.size, bool)]
    t_group, t_user, t_time = (np.r_[threads.group, st_group], np.r_[threads.user, st_user],
                               np.r_[threads.time, st_time])
    reply_spam = np.r_[np.zeros(replies.thread.size, bool), np.ones(spam_replies[1].size, bool)]
    replies = _Posts(*(np.r_[a, b] for a, b in zip((replies.thread, replies.user, replies.time), spam_replies)))

    votes = _votes(cfg, threads, replies.thread[~reply_spam], readers, tau, pop.n, rng)
    mod = _moderation(cfg, t_time, thread_spam, replies.time, reply_spam, rng)
    join_time, leave_time = _membership_times(act, sess, pair_of, members, com.joined, left, rng)
    return Community(kinds, cities, created, group_of[members], members, join_time, leave_time,
                     t_group, t_user, t_time, thread_spam, replies.thread, replies.user, replies.time, reply_spam,
                     votes.thread, votes.user, votes.time, *mod, core.group, core.user, core.day, spammers)


def _threads(cfg: WorldConfig, act: Activity, sess: Sessions, group_of: np.ndarray, rng: np.random.Generator
             ) -> _Threads:
    """The threads the loop decided, placed in the author's session of that day; whether each was answered
    within the hour (for a first thread, as the loop decided)."""
    pair = np.repeat(np.arange(act.user.size), act.threads)
    user, day = act.user[pair], act.day[pair]
    time = _within_day(place_in_sessions(sess, pair, rng), day)
    order = np.lexsort((user, time))
    user, day, time = user[order], day[order], time[order]
    first = np.zeros(user.size, bool)
    first[np.unique(user, return_index=True)[1]] = True
    fast = np.where(first, act.fast_first_answer[user], rng.random(user.size) < cfg.fast_reply_share)
    return _Threads(group_of[user], user, day, time, fast, first)


def _core_departure(cfg: WorldConfig, act: Activity, pair_of: _PairIndex, threads: _Threads, left: np.ndarray,
                    n_groups: int, rng: np.random.Generator) -> tuple[_Departure, _Threads]:
    """The planted departure: the busiest group's most prolific author still around leaves on an active day;
    their later threads, and many of the others' there, are gone (``left`` is updated)."""
    d0 = cfg.core_departure_day
    core = _Departure(int(np.bincount(threads.group[threads.day < d0], minlength=n_groups).argmax()))
    before = (threads.group == core.group) & (threads.day < d0)
    authors, counts = np.unique(threads.user[before], return_counts=True)
    for i in np.argsort(-counts, kind="stable"):
        author = authors[i]
        if 0 <= left[author] <= d0:
            continue
        days_active = act.day[pair_of.pairs_of(author)]
        soon = days_active[(days_active >= d0) & (days_active < d0 + 7)]
        if soon.size:
            core.user, core.day = int(author), int(soon[0])
            break
    if core.user < 0:
        return core, threads
    left[core.user] = core.day
    # Without them the others start fewer threads there too (their first threads stay: the loop saw them).
    fewer = ((threads.group == core.group) & (threads.day >= core.day) & ~threads.first
             & (rng.random(threads.user.size) < cfg.core_departure_drop))
    return core, threads.take(~((threads.user == core.user) & (threads.day >= core.day)) & ~fewer)


def _voices(pop: Population, act: Activity, joined: np.ndarray, left: np.ndarray, group_of: np.ndarray,
            threads: _Threads, core: _Departure, n_groups: int, rng: np.random.Generator
            ) -> tuple[_Candidates, _Candidates]:
    """Who writes replies (most members never do; thread starters write most) and who votes (any member)."""
    loud = pop.engagement * rng.lognormal(0, 1.0, pop.n)
    voice = np.where(rng.random(pop.n) < SILENT_SHARE, 0.0, loud)
    starters = np.unique(threads.user)
    voice[starters] = 6.0 * loud[starters]
    if core.user >= 0:
        voice[core.user] = max(voice[core.user], np.quantile(voice[voice > 0], 0.99)) if (voice > 0).any() else 1.0
    return (_Candidates(act, joined, left, group_of, voice, n_groups),
            _Candidates(act, joined, left, group_of, pop.engagement, n_groups))


def _replies(cfg: WorldConfig, threads: _Threads, core: _Departure, writers: _Candidates, tau: float,
             rng: np.random.Generator) -> _Posts:
    """How many replies each thread gets, how soon (heat decays exponentially), and who writes them."""
    n = threads.user.size
    answered = threads.fast | (rng.random(n) >= UNANSWERED_SHARE)
    mean = REPLIES_PER_THREAD * np.where(threads.group == core.group, 1.3, 1.0)
    after_core = (threads.group == core.group) & (core.day >= 0) & (threads.day >= core.day)
    mean = np.where(after_core, mean * (1 - cfg.core_departure_drop), mean)
    k = np.where(answered, 1 + rng.poisson(mean - 1), 0)
    thread = np.repeat(np.arange(n), k)
    delay = rng.exponential(tau, thread.size)
    delay[~threads.fast[thread]] += 3600
    first_reply = np.r_[0, np.cumsum(k)[:-1]][k > 0]
    delay[first_reply] = np.where(threads.fast[k > 0], rng.uniform(60, 3500, first_reply.size), delay[first_reply])
    keep = (delay < MAX_DELAY) & (threads.time[thread] + delay < cfg.days * DAY)
    thread, delay = thread[keep], delay[keep].astype(np.int64)
    time = threads.time[thread] + delay
    posts = _Posts(thread, writers.pick(threads.group[thread], time // DAY, rng, avoid=threads.user[thread]), time)
    posts = posts.take(posts.user >= 0)
    if core.user >= 0:                                     # the core member writes nothing after leaving
        posts = posts.take(~((posts.user == core.user) & (posts.time >= core.day * DAY)))
    return posts


def _votes(cfg: WorldConfig, threads: _Threads, reply_thread: np.ndarray, readers: _Candidates, tau: float,
           n_users: int, rng: np.random.Generator) -> _Posts:
    """Up-votes on threads, by any member who reads (lurkers too), at most one per user and thread."""
    n = threads.user.size
    thread = np.repeat(np.arange(n), rng.poisson(VOTES_PER_MESSAGE * (1 + np.bincount(reply_thread, minlength=n))))
    time = threads.time[thread] + rng.exponential(tau, thread.size).astype(np.int64) + 30
    fits = time < np.minimum(threads.time[thread] + MAX_DELAY, cfg.days * DAY)
    thread, time = thread[fits], time[fits]
    votes = _Posts(thread, readers.pick(threads.group[thread], time // DAY, rng, avoid=threads.user[thread]), time)
    votes = votes.take(votes.user >= 0)
    return votes.take(np.unique(votes.thread * n_users + votes.user, return_index=True)[1])


def _groups() -> tuple[np.ndarray, np.ndarray]:
    """One group per big city, then one per interest: (kind, city key)."""
    kinds = np.array(["city"] * len(GROUP_CITIES) + list(TOPICS), dtype=object)
    cities = np.array(list(GROUP_CITIES) + [None] * len(TOPICS), dtype=object)
    return kinds, cities


def _choose_groups(pop: Population, members: np.ndarray, city_key: np.ndarray, kinds: np.ndarray,
                   cities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A member's group: their city's group, or one of their interests."""
    n_city = len(GROUP_CITIES)
    female = pop.female[members]
    topic = np.where(female, rng.choice(len(TOPICS), members.size, p=TOPIC_TASTE[True]),
                     rng.choice(len(TOPICS), members.size, p=TOPIC_TASTE[False]))
    group = n_city + topic
    city_group = {c: i for i, c in enumerate(GROUP_CITIES)}
    home = np.array([city_group.get(c, -1) for c in city_key[members]])
    local = (home >= 0) & (rng.random(members.size) < CITY_GROUP_SHARE)
    return np.where(local, home, group)


class _PairIndex:
    """Find a user's active (user, day) pairs."""

    def __init__(self, act: Activity) -> None:
        self.order = np.argsort(act.user, kind="stable")
        self.sorted_user = act.user[self.order]

    def pairs_of(self, user: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.sorted_user, [user, user + 1])
        return self.order[lo:hi]

    def pair(self, act: Activity, user: np.ndarray, day: np.ndarray) -> np.ndarray:
        key = act.day.astype(np.int64) * (act.user.max() + 1) + act.user
        return np.searchsorted(key, day.astype(np.int64) * (act.user.max() + 1) + user)


class _Candidates:
    """Members active on each day in each group, with a weight, to draw writers or voters from."""

    def __init__(self, act: Activity, joined: np.ndarray, left: np.ndarray, group_of: np.ndarray,
                 weight: np.ndarray, n_groups: int) -> None:
        u, d = act.user, act.day
        g = group_of[u]
        inside = (g >= 0) & (joined[u] >= 0) & (joined[u] < d) & ((left[u] < 0) | (left[u] > d)) & (weight[u] > 0)
        u, d, g = u[inside], d[inside], g[inside]
        self.days = int(d.max()) + 1 if d.size else 1
        key = g * self.days + d
        order = np.lexsort((u, key))
        self.user, self.key, self.group, self.day = u[order], key[order], g[order], d[order]
        self.cum = np.r_[0.0, np.cumsum(weight[self.user])]

    def pick(self, group: np.ndarray, day: np.ndarray, rng: np.random.Generator, avoid: np.ndarray) -> np.ndarray:
        """One weighted member per request (-1 when none is active), never ``avoid`` if another exists."""
        key = group * self.days + np.minimum(day, self.days - 1)
        lo = np.searchsorted(self.key, key, side="left")
        hi = np.searchsorted(self.key, key, side="right")
        out = np.full(key.size, -1)
        for _ in range(3):
            need = (out < 0) & (hi > lo)
            target = self.cum[lo[need]] + rng.random(int(need.sum())) * (self.cum[hi[need]] - self.cum[lo[need]])
            pick = np.clip(np.searchsorted(self.cum, target, side="right") - 1, lo[need], hi[need] - 1)
            got = self.user[pick]
            out[need] = np.where(got != avoid[need], got, -1)
        return out


def _spam_wave(cfg: WorldConfig, writers: _Candidates, t_group: np.ndarray, t_time: np.ndarray, group_of: np.ndarray,
               rng: np.random.Generator) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], np.ndarray]:
    """Spam threads and replies by a few member accounts active on the wave's days."""
    lo, hi = cfg.spam_wave_day, cfg.spam_wave_day + cfg.spam_wave_days
    on_first = writers.day == lo
    pool = np.unique(writers.user[on_first])
    n_spam = min(max(3, cfg.n_users // 2500), pool.size)
    spammers = np.sort(rng.choice(pool, size=n_spam, replace=False)) if n_spam else np.array([], np.int64)
    th_g, th_u, th_t, re_t, re_u, re_time = [], [], [], [], [], []
    for d in range(lo, min(hi, cfg.days)):
        day_rows = (writers.day == d) & np.isin(writers.user, spammers)
        for u in np.unique(writers.user[day_rows]):
            g = group_of[u]
            k_threads = 1 + rng.poisson(1.5)
            th_g += [g] * k_threads
            th_u += [u] * k_threads
            th_t += list(d * DAY + np.sort(rng.integers(0, DAY, k_threads)))
            recent = np.flatnonzero((t_group == g) & (t_time < d * DAY + DAY) & (t_time >= (d - 3) * DAY))
            if recent.size:
                k = 5 + rng.poisson(10)
                which = rng.choice(recent, k)
                when = np.maximum(t_time[which] + 60, d * DAY) + rng.integers(0, 6 * 3600, k)
                fits = (when < d * DAY + DAY) & (when < cfg.days * DAY)
                re_t += list(which[fits])
                re_u += [u] * int(fits.sum())
                re_time += list(when[fits])
    spam_threads = (np.array(th_g, np.int64), np.array(th_u, np.int64), np.array(th_t, np.int64))
    spam_replies = (np.array(re_t, np.int64), np.array(re_u, np.int64), np.array(re_time, np.int64))
    return spam_threads, spam_replies, spammers


def _moderation(cfg: WorldConfig, t_time: np.ndarray, thread_spam: np.ndarray, r_time: np.ndarray,
                reply_spam: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Removals: most spam within minutes by the filter, and a trickle of rule breaks found by staff."""
    kinds, targets, times, rules, staff = [], [], [], [], []
    for kind, posted, spam in (("thread", t_time, thread_spam), ("reply", r_time, reply_spam)):
        n = posted.size
        removed_spam = spam & (rng.random(n) < SPAM_REMOVED)
        removed_other = ~spam & (rng.random(n) < BASE_REMOVAL)
        by_staff = np.where(removed_spam, rng.random(n) < 0.2, rng.random(n) < 0.7)
        delay = np.where(by_staff, rng.integers(1200, 8 * 3600, n), rng.integers(30, 900, n))
        rule = np.where(removed_spam, 0, 1 + rng.choice(len(MODERATION_RULES) - 1, n, p=[0.4, 0.3, 0.2, 0.1]))
        idx = np.flatnonzero((removed_spam | removed_other) & (posted + delay < cfg.days * DAY))
        kinds.append(np.full(idx.size, kind, dtype=object))
        targets.append(idx)
        times.append(posted[idx] + delay[idx])
        rules.append(np.array(MODERATION_RULES, dtype=object)[rule[idx]])
        staff.append(by_staff[idx])
    return (np.concatenate(kinds), np.concatenate(targets), np.concatenate(times), np.concatenate(rules),
            np.concatenate(staff))


def _membership_times(act: Activity, sess: Sessions, pair_of: _PairIndex, members: np.ndarray, joined: np.ndarray,
                      left: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Join and leave times inside a session of the day the loop decided (both are active days)."""
    join_pair = pair_of.pair(act, members, joined[members])
    join_time = _within_day(place_in_sessions(sess, join_pair, rng), joined[members])
    leave_time = np.full(members.size, -1)
    gone = left[members] >= 0
    leave_pair = pair_of.pair(act, members[gone], left[members][gone])
    leave_time[gone] = _within_day(place_in_sessions(sess, leave_pair, rng), left[members][gone])
    return join_time, leave_time


def _within_day(time: np.ndarray, day: np.ndarray) -> np.ndarray:
    """A late session can run past midnight: keep the action on the day the loop decided."""
    return np.minimum(time, (np.asarray(day) + 1) * DAY - 1)

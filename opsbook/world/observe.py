"""Turn simulated activity into what a company would record: sessions and tracked events.

Everything here works on flat numpy arrays. Times are integer seconds since
the start of the period; ``generate`` turns them into timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import DAY, USE_HOURS, Activity, Population
from .schema import EVENT_TYPES

ET = {name: i for i, name in enumerate(EVENT_TYPES)}
FILLER_TYPES = np.array([ET[t] for t in ("view_content", "like", "comment", "share", "save", "search", "follow")])
FILLER_P = np.array([0.62, 0.13, 0.03, 0.025, 0.045, 0.13, 0.02])
CONTENT_EVENTS = np.array([ET[t] for t in ("view_content", "like", "comment", "share", "save")])
MAX_SESSIONS = 5
SESSION_GAP = 31 * 60      # the next session starts at least this long after the last one ended


@dataclass
class Sessions:
    pair: np.ndarray       # index into the activity pairs; sessions[:n_pairs] are each pair's first
    user: np.ndarray
    start: np.ndarray      # seconds
    duration: np.ndarray
    n_events: np.ndarray
    gaps: np.ndarray       # per event, seconds since the previous event of its session (0 for the first)


@dataclass
class Events:
    user: np.ndarray
    time: np.ndarray
    session: np.ndarray    # index into Sessions
    kind: np.ndarray       # index into EVENT_TYPES
    content: np.ndarray    # index into content, -1 none
    campaign: np.ndarray   # campaign id, -1 none

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        return Events(*(np.concatenate([getattr(p, f) for p in parts])
                        for f in ("user", "time", "session", "kind", "content", "campaign")))

    def take(self, idx: np.ndarray) -> Events:
        return Events(self.user[idx], self.time[idx], self.session[idx], self.kind[idx],
                      self.content[idx], self.campaign[idx])


def make_events(user: np.ndarray, time: np.ndarray, session: np.ndarray, kind: int | np.ndarray,
                content: np.ndarray | None = None, campaign: int | np.ndarray | None = None) -> Events:
    n = np.asarray(user).size
    none = np.full(n, -1, dtype=np.int64)
    return Events(np.asarray(user), np.asarray(time, dtype=np.int64), np.asarray(session),
                  np.broadcast_to(kind, n).astype(np.int64),
                  none.copy() if content is None else np.asarray(content),
                  none.copy() if campaign is None else np.broadcast_to(campaign, n).astype(np.int64))


def draw_sessions(pop: Population, act: Activity, rng: np.random.Generator) -> Sessions:
    """Each active day gets 1-5 sessions, at least 31 minutes apart, all starting that day."""
    n_pairs = act.user.size
    u, d = act.user, act.day
    n_sess = 1 + np.minimum(rng.poisson(pop.sessions_rate[u]), MAX_SESSIONS - 1)
    hours = rng.choice(24, size=n_pairs, p=USE_HOURS / USE_HOURS.sum())
    first = d * DAY + hours * 3600 + rng.integers(0, 3600, n_pairs)
    on_signup_day = d == pop.signup_day[u]
    first[on_signup_day] = pop.signup_sec[u[on_signup_day]]

    pair_parts, start_parts, n_ev_parts, dur_parts, gap_parts = [], [], [], [], []
    pairs, start = np.arange(n_pairs), first
    prev_end = first
    for k in range(MAX_SESSIONS):
        if k:
            keep = n_sess[pairs] > k
            pairs = pairs[keep]
            start = prev_end[keep] + SESSION_GAP + rng.exponential(7200, pairs.size).astype(np.int64)
            inside = start < (d[pairs] + 1) * DAY
            pairs, start = pairs[inside], start[inside]
        n_ev = 1 + np.minimum(rng.poisson(pop.events_rate[u[pairs]]), 39)
        gaps = _gaps(n_ev, rng)
        dur = np.add.reduceat(gaps, np.cumsum(n_ev) - n_ev) if n_ev.size else n_ev
        pair_parts.append(pairs)
        start_parts.append(start)
        n_ev_parts.append(n_ev)
        dur_parts.append(dur)
        gap_parts.append(gaps)
        prev_end = start + dur
    pair = np.concatenate(pair_parts)
    return Sessions(pair, u[pair], np.concatenate(start_parts), np.concatenate(dur_parts),
                    np.concatenate(n_ev_parts), np.concatenate(gap_parts))


def _gaps(n_events: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Seconds between consecutive events of each session (2 s to 15 min); 0 before the first."""
    gaps = np.minimum(2 + rng.exponential(45, int(n_events.sum())), 900).astype(np.int64)
    gaps[np.cumsum(n_events) - n_events] = 0
    return gaps


def filler_events(pop: Population, sess: Sessions, tenure_of_session: np.ndarray, aha_days: int,
                  rng: np.random.Generator) -> Events:
    """open_app first, then browsing: views, likes, searches... Creators also post.

    In a user's first ``aha_days`` days there are no browsing follows: follows there
    are the activation behaviour, added by ``activation_follows``.
    """
    total = int(sess.n_events.sum())
    owner = np.repeat(np.arange(sess.start.size), sess.n_events)
    first_of = np.cumsum(sess.n_events) - sess.n_events
    pos = np.arange(total) - first_of[owner]
    csum = np.cumsum(sess.gaps)
    offset = csum - csum[first_of][owner]
    kind = FILLER_TYPES[rng.choice(FILLER_TYPES.size, size=total, p=FILLER_P)]
    early = tenure_of_session[owner] < aha_days
    kind[(kind == ET["follow"]) & early] = ET["view_content"]
    user = sess.user[owner]
    creator_post = pop.creator[user] & (rng.random(total) < 0.1)
    kind[creator_post & (kind == ET["view_content"])] = ET["post"]
    kind[pos == 0] = ET["open_app"]
    return make_events(user, sess.start[owner] + offset, owner, kind)


def place_in_sessions(sess: Sessions, session_idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A time inside each given session."""
    return sess.start[session_idx] + (rng.random(session_idx.size) * (sess.duration[session_idx] + 1)).astype(np.int64)


def sessions_of_users(sess: Sessions, mask: np.ndarray, users: np.ndarray, per_user: np.ndarray,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each user, ``per_user`` random sessions among those where ``mask`` holds.

    Returns (user, session index) for every draw; users with no such session get none.
    """
    cand = np.flatnonzero(mask)
    cand = cand[np.argsort(sess.user[cand], kind="stable")]
    cu = sess.user[cand]
    lo = np.searchsorted(cu, users, side="left")
    hi = np.searchsorted(cu, users, side="right")
    have = hi > lo
    users, lo, hi, per_user = users[have], lo[have], hi[have], per_user[have]
    rep_u = np.repeat(users, per_user)
    rep_lo = np.repeat(lo, per_user)
    rep_n = np.repeat(hi - lo, per_user)
    pick = cand[rep_lo + (rng.random(rep_u.size) * rep_n).astype(np.int64)]
    return rep_u, pick

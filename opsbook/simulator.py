"""Play an operations plan forward from the end of a world's data (the capstone simulator).

The simulator re-runs the world's own behavioural model (``opsbook.world``) up to
the last day of the data and keeps going for ``days`` more days under your plan.
It continues the world **as it is at the end of the data**: a release that is
still broken stays broken until a lever of the plan repairs it, and a world whose
app works stays that way. Same world, same plan, same seed: same outcome.

    from opsbook.simulator import levers, simulate_plan
    levers(DATA_DIR)               # the menu: every lever, what it costs, how long before it acts
    plan = {
        "channel_budget": {"search_ads": 12_000, "content_marketing": 9_000},     # CNY over the whole run
        "campaigns": [{"kind": "push", "target": "dormant", "budget": 300, "start": 5}],
        "release_fix": "hotfix",                                                  # or "rollback", or None
    }
    result = simulate_plan(plan, DATA_DIR, days=28, budget=40_000, seed=0)
    result.summary      # one row of outcome metrics and costs
    result.weekly       # weekly active users per week of the run, in total and by platform
    result.daily        # one row per simulated day
    result.by_channel   # spend, new users and how many of them were active in the last week, per channel
    result.levers       # each lever of the plan: what it committed, what it spent, the day it began to act,
                        # whom a campaign reached and, for a push, how many were on its list

Days of the run are counted from 0, the first day after the data ends. Every
lever is decided on day 0 and acts after its lead time: a campaign that takes 3
days to prepare starts on day 3 at the earliest (``"start"`` can delay it).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from opsbook.world.campaigns import REWARDS, Campaign
from opsbook.world.config import WorldConfig
from opsbook.world.generate import WORLD_META, config_from_meta, random_streams, run_history
from opsbook.world.model import (
    CHANNEL_PROFILES,
    TARGET_RULES,
    Activity,
    DayFactors,
    LoopState,
    Population,
    app_version,
    channel_day_weights,
    day_factors,
    new_users,
    simulate,
    target_mask,
)
from opsbook.world.schema import CHANNELS, PAID_CHANNELS, PLATFORMS

MAX_DAYS = 90
DEFAULT_DAYS = 28
SATURATION = 0.3           # doubling a channel's budget buys 2 ** 0.7 = 1.6 times the installs
CHANNEL_LEAD_DAYS = 0      # the ad accounts are live: a new daily budget applies from day 0
PLAN_KEYS = ("channel_budget", "campaigns", "release_fix")


@dataclass(frozen=True)
class CampaignLever:
    """A campaign a plan can run: what one participant costs and how long it takes to prepare."""

    unit_cost: float       # CNY per ``unit``
    unit: str              # what is paid for: a claimed coupon, a participant, an invited friend, a message ...
    lead_days: int         # the earliest day of the run it can start
    effect: str


CAMPAIGNS: dict[str, CampaignLever] = {
    "coupon": CampaignLever(REWARDS["coupon"].amount, "coupon claimed", 3,
                            "a win-back coupon to a target list (its budget caps the list: one coupon per 15 CNY): "
                            "those who get it come back more often, are more active and buy more while it runs"),
    "check_in": CampaignLever(REWARDS["check_in"].amount, "participant", 5,
                              "a daily check-in challenge: participants are more active while it runs"),
    "lottery": CampaignLever(REWARDS["lottery"].amount * 0.08, "entrant", 4,
                             "a lottery (the prize's expected cost per entrant): a burst of entries, nothing more"),
    "invite": CampaignLever(REWARDS["invite"].amount, "invited friend who signs up", 7,
                            "cash for each invited friend who signs up: more referral sign-ups"),
    "push": CampaignLever(0.1, "message sent", 1,
                          "a win-back message (push and SMS) sent once to a target list, optionally of one platform: "
                          "some of those who left come back that day, the more recently they left the likelier"),
}
TARGETED = ("coupon", "push")
PUSH_RETURN = 0.15         # chance that a user who left today comes back for a push ...
PUSH_HALF_LIFE = 14        # ... halved for every this many days since they were last active;
PUSH_RETURN_BROKEN = 0.7   # but a user who left while the release was broken on their platform still wants the app
PUSH_STAY = 0.5            # a user a push brought back leaves less often while the app works for them (churn ×)


@dataclass(frozen=True)
class ReleaseFix:
    """A way to repair the broken release: its cost to the budget, its lead time, how users get it."""

    cost_per_user: float   # CNY charged to the plan per user of the broken platform (``History.platform_users``)
    lead_days: int         # engineering and review days before it reaches the first users
    daily_update: float    # share of the not-yet-repaired users of the platform repaired each day after that
    feature_loss: float    # activity lost by every user of the platform once it lands (a switched-off feature)
    effect: str


RELEASE_FIXES: dict[str, ReleaseFix] = {
    "hotfix": ReleaseFix(0.3, 12, 0.2, 0.0,
                         "a patched version, announced by SMS to each user of the platform: in the app store after "
                         "12 days; then the bug is gone for each user who updates (a fifth of the rest each day) "
                         "and for every new install; the release's new feature stays"),
    "rollback": ReleaseFix(1.5, 2, 1.0, 0.3,
                           "switch the release's new feature off on the server, with an apology credit to each user "
                           "of the platform: the bug is gone for everyone at once, and so is the feature (users of "
                           "that platform are 30 % less active for the rest of the run)"),
}


class PlanError(ValueError):
    """A plan the simulator cannot run; the message says what to change."""


def levers(data_dir: str | Path | WorldConfig | None = None) -> pd.DataFrame:
    """The menu of levers on the world in ``data_dir``: cost, lead time (days before it acts), what it does."""
    hist = _history(_config(data_dir))
    rows = [{"lever": f"channel_budget['{c}']", "cost (CNY)": "the budget you set, spread evenly over the run",
             "lead time (days)": CHANNEL_LEAD_DAYS,
             "what it does": f"buys installs at about {CHANNEL_PROFILES[c].cpi:g} CNY each, dearer as the budget grows"}
            for c in PAID_CHANNELS]
    rows += [{"lever": f"campaign '{k}'", "cost (CNY)": f"{c.unit_cost:g} per {c.unit}, up to its budget",
              "lead time (days)": c.lead_days, "what it does": c.effect} for k, c in CAMPAIGNS.items()]
    rows += [{"lever": f"release_fix '{k}'", "cost (CNY)": f"{hist.fix_cost(k):,.0f} ({f.cost_per_user:g} per user of "
              f"the platform)", "lead time (days)": f.lead_days, "what it does": f.effect}
             for k, f in RELEASE_FIXES.items()]
    return pd.DataFrame(rows).set_index("lever")


# --------------------------------------------------------------------------- the plan
@dataclass(frozen=True)
class CampaignPlan:
    kind: str
    budget: float
    target: str | None = None
    start: int | None = None      # day of the run it starts (None: as soon as its lead time allows)
    platform: str | None = None   # a push can go to the users of one platform only

    @property
    def first_day(self) -> int:
        return CAMPAIGNS[self.kind].lead_days if self.start is None else self.start


@dataclass(frozen=True)
class Plan:
    """Budgets in CNY for the whole run, campaigns, and how (whether) to repair the broken release."""

    channel_budget: Mapping[str, float] = field(default_factory=dict)
    campaigns: tuple[CampaignPlan, ...] = ()
    release_fix: str | None = None

    @classmethod
    def from_dict(cls, plan: Mapping[str, Any] | Plan) -> Plan:
        """Check a plan written as a dict (or a Plan) and return it as a Plan."""
        if isinstance(plan, Plan):
            return plan
        if not isinstance(plan, Mapping):
            raise PlanError(f"a plan is a dict with keys {', '.join(PLAN_KEYS)}; got {type(plan).__name__}")
        _check_keys(plan)
        campaigns = plan.get("campaigns") or []
        if not isinstance(campaigns, (list, tuple)):
            raise PlanError(f"campaigns is a list of dicts, not {type(campaigns).__name__}")
        checked = tuple(_campaign(i, c) for i, c in enumerate(campaigns))
        if len({c.kind for c in checked}) < len(checked):
            raise PlanError("run each kind of campaign at most once")
        return cls(_channel_budget(plan.get("channel_budget") or {}), checked, _release_fix(plan.get("release_fix")))

    def cost(self, fix_cost: float) -> float:
        """Everything the plan commits, CNY: channel budgets, campaign budgets and ``fix_cost`` for a release fix."""
        fix = fix_cost if self.release_fix else 0.0
        return sum(self.channel_budget.values()) + sum(c.budget for c in self.campaigns) + fix

    def check_days(self, days: int) -> None:
        """Every campaign starts inside a run of ``days`` days."""
        for c in self.campaigns:
            if c.first_day >= days:
                raise PlanError(f"campaign {c.kind!r} would start on day {c.first_day}, after a run of {days} days "
                                f"ends (days 0 to {days - 1})")


def _check_keys(plan: Mapping[str, Any]) -> None:
    unknown = sorted(map(str, set(plan) - set(PLAN_KEYS)))
    if "fix_release" in unknown:
        raise PlanError("fix_release is now release_fix: choose 'hotfix', 'rollback' or None")
    if unknown:
        raise PlanError(f"unknown plan keys {unknown}; a plan has the keys {', '.join(PLAN_KEYS)}")


def _channel_budget(budgets: Any) -> dict[str, float]:
    if not isinstance(budgets, Mapping):
        raise PlanError(f"channel_budget is a dict of paid channel -> CNY, not {type(budgets).__name__}")
    for channel, amount in budgets.items():
        if channel not in CHANNELS:
            raise PlanError(f"unknown channel {channel!r}; paid channels are {', '.join(PAID_CHANNELS)}")
        if channel not in PAID_CHANNELS:
            raise PlanError(f"{channel} is a free channel: it takes no budget (paid: {', '.join(PAID_CHANNELS)})")
        _check_amount(f"channel_budget[{channel!r}]", amount)
    return {str(k): float(v) for k, v in budgets.items()}


def _campaign(i: int, c: Any) -> CampaignPlan:
    if not isinstance(c, Mapping) or "kind" not in c or "budget" not in c:
        raise PlanError(f"campaigns[{i}] must be a dict with kind and budget (a coupon or a push also needs a target)")
    unknown = sorted(map(str, set(c) - {"kind", "budget", "target", "start", "platform"}))
    if unknown:
        raise PlanError(f"campaigns[{i}]: unknown keys {unknown}; use kind, budget, target, start (and platform)")
    kind, target = c["kind"], c.get("target")
    if kind not in CAMPAIGNS:
        raise PlanError(f"campaigns[{i}]: unknown kind {kind!r}; choose from {', '.join(CAMPAIGNS)}")
    _check_amount(f"campaigns[{i}].budget", c["budget"])
    if kind in TARGETED and target not in TARGET_RULES:
        raise PlanError(f"campaigns[{i}]: a {kind} needs a target, one of {', '.join(TARGET_RULES)}")
    if kind not in TARGETED and target is not None:
        raise PlanError(f"campaigns[{i}]: only a coupon or a push is sent to a target list; drop target for {kind}")
    return CampaignPlan(kind, float(c["budget"]), target, _start(i, kind, c.get("start")),
                        _platform(i, kind, c.get("platform")))


def _start(i: int, kind: str, start: Any) -> int | None:
    lead = CAMPAIGNS[kind].lead_days
    if start is None:
        return None
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < lead:
        raise PlanError(f"campaigns[{i}]: start is the day of the run it begins, a whole number >= {lead} "
                        f"(a {kind} takes {lead} days to prepare), not {start!r}")
    return int(start)


def _platform(i: int, kind: str, platform: Any) -> str | None:
    if platform is not None and (kind != "push" or platform not in PLATFORMS):
        raise PlanError(f"campaigns[{i}]: only a push can be limited to one platform ({' or '.join(PLATFORMS)}); "
                        f"got platform={platform!r} for a {kind}")
    return platform


def _release_fix(fix: Any) -> str | None:
    if fix is None or (isinstance(fix, str) and fix in RELEASE_FIXES):
        return fix
    hint = " (True/False was the old format)" if isinstance(fix, bool) else ""
    raise PlanError(f"release_fix must be one of {', '.join(map(repr, RELEASE_FIXES))} or None, not {fix!r}{hint}")


def _check_amount(name: str, amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise PlanError(f"{name} must be a number of CNY, not {amount!r}")
    if not np.isfinite(amount) or amount < 0:
        raise PlanError(f"{name} must be a finite amount >= 0 CNY, not {amount}")


# --------------------------------------------------------------------------- the world at the end of its data
@dataclass
class History:
    """The world's model re-run to the end of its data, and the state of the buggy release then."""

    config: WorldConfig
    factors: DayFactors
    pop: Population
    state: LoopState
    bug_open: bool         # the buggy release is out, and not repaired, on the last day of the data
    platform_users: int    # users of the buggy release's platform active in the last 28 days of the data

    @classmethod
    def replay(cls, config: WorldConfig) -> History:
        """Re-run ``config``'s world exactly as the generator did (a second or two per 20,000 users)."""
        factors, pop, act, state = run_history(config, random_streams(config))
        last = np.array([config.days - 1])
        bug_open = config.bug_start_day < config.days and app_version(config, last)[0] == config.bug_version
        recent = np.unique(act.user[act.day >= config.days - 28])
        on_platform = pop.platform[recent] == PLATFORMS.index(config.bug_platform)
        return cls(config, factors, pop, state, bool(bug_open), int(on_platform.sum()))

    def fix_cost(self, fix: str | None) -> float:
        """What a release fix costs on this world, CNY (0 for None)."""
        return round(RELEASE_FIXES[fix].cost_per_user * self.platform_users, 2) if fix else 0.0


def simulate_plan(plan: Mapping[str, Any] | Plan, data_dir: str | Path | WorldConfig | None = None,
                  days: int = DEFAULT_DAYS, budget: float | None = None, seed: int = 0) -> Outcome:
    """Run ``plan`` for ``days`` days after the world's data ends; reject it if it commits more than ``budget``.

    ``data_dir`` is a world folder (default: the course's world), or a ``WorldConfig``: the world that config
    generates, without writing it.
    """
    plan = Plan.from_dict(plan)
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or not 1 <= days <= MAX_DAYS:
        raise PlanError(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    plan.check_days(int(days))
    hist = _history(_config(data_dir))
    cost = plan.cost(hist.fix_cost(plan.release_fix))
    if budget is not None and cost > budget + 1e-6:
        raise PlanError(f"the plan commits {cost:,.0f} CNY, over the budget of {budget:,.0f} CNY "
                        f"by {cost - budget:,.0f}")
    return _Forward(hist, plan, int(days), int(seed)).run()


def plan_cost(plan: Mapping[str, Any] | Plan, data_dir: str | Path | WorldConfig | None = None) -> float:
    """Everything ``plan`` commits on the world in ``data_dir``, CNY (``PlanError`` for a plan it rejects)."""
    plan = Plan.from_dict(plan)
    return plan.cost(_history(_config(data_dir)).fix_cost(plan.release_fix))


def _config(data_dir: str | Path | WorldConfig | None) -> WorldConfig:
    return data_dir if isinstance(data_dir, WorldConfig) else _world_config(data_dir)


def _world_config(data_dir: str | Path | None) -> WorldConfig:
    """The config that made the world folder ``data_dir``, checked against its users table."""
    from opsbook.data import resolve_data_dir

    folder = resolve_data_dir(data_dir)
    meta_path = folder / WORLD_META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} is missing: the simulator needs the {WORLD_META} written by "
                                "`opsbook world generate` to re-run this world's model")
    config = config_from_meta(json.loads(meta_path.read_text(encoding="utf-8")))
    users = folder / "users.csv.gz"
    rows, expected = _users_rows(str(users), users.stat().st_mtime_ns), _replayed_rows(config)
    if rows != expected:
        raise ValueError(f"users.csv.gz has {rows} rows but re-running {WORLD_META} gives {expected}: "
                         "the folder was edited or made by another generator; regenerate it")
    return config


@lru_cache(maxsize=8)
def _users_rows(path: str, _mtime: int) -> int:
    return len(pd.read_csv(path, usecols=["user_id"]))


def _replayed_rows(config: WorldConfig) -> int:
    return _history(config).pop.n + int(round(config.bot_share * config.n_users))


_REPLAYS: OrderedDict[str, History] = OrderedDict()


def _history(config: WorldConfig) -> History:
    """The replayed world of ``config``; the last few are kept (a replay takes seconds)."""
    key = json.dumps(config.as_dict(), sort_keys=True, default=str)
    if key not in _REPLAYS:
        _REPLAYS[key] = History.replay(config)
        while len(_REPLAYS) > 4:
            _REPLAYS.popitem(last=False)
    _REPLAYS.move_to_end(key)
    return _REPLAYS[key]


# --------------------------------------------------------------------------- the forward run
@dataclass
class Outcome:
    plan: Plan
    summary: pd.Series
    weekly: pd.DataFrame
    daily: pd.DataFrame
    by_channel: pd.DataFrame
    levers: pd.DataFrame


@dataclass
class _Run:
    """What the day loop produced, gathered over the run."""

    user: list[np.ndarray] = field(default_factory=list)
    day: list[np.ndarray] = field(default_factory=list)
    orders: list[np.ndarray] = field(default_factory=list)

    def add(self, act: Activity) -> None:
        self.user.append(act.user)
        self.day.append(act.day)
        self.orders.append(act.orders)

    def activity(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.concatenate(self.user), np.concatenate(self.day), np.concatenate(self.orders)


class _Forward:
    """One run of a plan: sign-ups, the release's state per user and day, a push, then the model's day loop."""

    def __init__(self, hist: History, plan: Plan, days: int, seed: int) -> None:
        self.hist, self.plan, self.days = hist, plan, days
        self.cfg = hist.config
        self.rng = np.random.default_rng([self.cfg.seed, seed, 618])
        self.first = self.cfg.days
        self.factors = day_factors(replace(self.cfg, days=self.first + days))
        self.camps = self._campaigns()
        self.pushed = 0                               # messages a push sent
        self.push_list = 0                            # users on its list (more than it sent when the budget is short)
        self.returned: np.ndarray | None = None       # users a push brought back

    def run(self) -> Outcome:
        counts, spend, invited = self._signups()
        pop = _concat(self.hist.pop, new_users(self.cfg, self.rng, counts, first_day=self.first))
        repaired = self._repair_days(pop)
        state = self.hist.state.copy().grown(pop.n)
        run = _Run()
        for d in range(self.first, self.first + self.days):
            self._push(pop, state, d)
            act, state = simulate(self.cfg, self._view(pop, repaired, d), self.factors, self.rng, self.camps,
                                  range(d, d + 1), state=state, bug_window=self._bug_window())
            run.add(act)
        return _Report(self, pop, counts, spend, invited, state, run).outcome()

    # -- the levers --------------------------------------------------------------------------
    def _campaigns(self) -> list[Campaign]:
        """The plan's campaigns as the model runs them (a push is the simulator's own: see ``_push``)."""
        out = []
        for i, c in enumerate(self.plan.campaigns):
            if c.kind == "push":
                continue
            cap = None if c.kind == "invite" else _units(c.budget, c.kind)
            out.append(Campaign(100 + i, f"plan {c.kind}", c.kind, self.first + c.first_day, self.first + self.days,
                                0.0, "", "", target=c.target, max_joins=cap))
        return out

    @property
    def fix(self) -> ReleaseFix | None:
        """The plan's release fix, if there is a broken release for it to repair."""
        return RELEASE_FIXES[self.plan.release_fix] if self.plan.release_fix and self.hist.bug_open else None

    def _bug_window(self) -> tuple[int, int]:
        """The buggy release is out for the whole run if it was out when the data ended (else never)."""
        return (self.first, self.first + self.days) if self.hist.bug_open else (0, 0)

    def _repair_days(self, pop: Population) -> np.ndarray:
        """Per user, the first day their app no longer has the bug (a very large number: never in the run)."""
        repaired = np.full(pop.n, np.iinfo(np.int64).max // 2, dtype=np.int64)
        fix = self.fix
        if fix is None:
            return repaired
        lands = self.first + fix.lead_days
        repaired[:] = lands + self.rng.geometric(fix.daily_update, pop.n) - 1
        new_install = pop.signup_day >= lands                        # installs after it lands are repaired
        repaired[new_install] = pop.signup_day[new_install]
        return repaired

    def _view(self, pop: Population, repaired: np.ndarray, d: int) -> Population:
        """The population as the model sees it on day ``d``: repaired users are off the buggy platform (and miss
        a switched-off feature); users a push brought back leave less often."""
        changes = {}
        broken = (pop.platform == PLATFORMS.index(self.cfg.bug_platform)) & self.hist.bug_open & (repaired > d)
        if self.returned is not None:      # ... once their app works: back in a broken app, they leave as fast
            changes["churn"] = np.where(self.returned & ~broken, pop.churn * PUSH_STAY, pop.churn)
        fix = self.fix
        if fix is not None and d >= self.first + fix.lead_days:
            changes["platform"] = np.where(repaired <= d, -1, pop.platform)
            on_platform = pop.platform == PLATFORMS.index(self.cfg.bug_platform)
            changes["engagement"] = np.where(on_platform, pop.engagement * (1 - fix.feature_loss), pop.engagement)
        return replace(pop, **changes) if changes else pop

    def _push(self, pop: Population, state: LoopState, d: int) -> None:
        """On a push's day: send it to its list (as long as the budget pays); some of those who left come back."""
        push = next((c for c in self.plan.campaigns if c.kind == "push"), None)
        if push is None or d != self.first + push.first_day:
            return
        m = int(np.searchsorted(pop.signup_day, d, side="right"))
        since = d - state.last_active[:m]
        wanted = target_mask(push.target, d - pop.signup_day[:m], since, d - state.last_order[:m])
        if push.platform is not None:
            wanted &= pop.platform[:m] == PLATFORMS.index(push.platform)
        listed = np.flatnonzero(wanted)
        self.push_list = int(listed.size)
        cap = _units(push.budget, "push")
        if listed.size > cap:
            listed = np.sort(self.rng.choice(listed, size=cap, replace=False))
        self.pushed = int(listed.size)
        gone = listed[~state.alive[listed]]
        chance = PUSH_RETURN * 0.5 ** (since[gone] / PUSH_HALF_LIFE)
        if self.hist.bug_open:           # they left while the app was broken for them: they still want it
            broken = pop.platform[gone] == PLATFORMS.index(self.cfg.bug_platform)
            chance[broken & (state.last_active[gone] >= self.cfg.bug_start_day)] = PUSH_RETURN_BROKEN
        back = gone[self.rng.random(gone.size) < chance]
        state.alive[back] = True
        self.returned = np.zeros(pop.n, bool)
        self.returned[back] = True

    # -- sign-ups ----------------------------------------------------------------------------
    def _signups(self) -> tuple[np.ndarray, np.ndarray, int]:
        """New users per (day, channel): free channels as in the last four weeks, paid ones bought by the plan."""
        hist_w = channel_day_weights(self.cfg, self.hist.factors)[-28:].mean(axis=0) * self.cfg.n_users
        weekday = self.factors.signup[self.first:] / self.factors.signup[self.first - 28:self.first].mean()
        expected = np.outer(weekday, hist_w)                       # a plain day's signups, no campaign
        counts = np.zeros((self.days, len(CHANNELS)), np.int64)
        spend = np.zeros((self.days, len(CHANNELS)))
        for c, name in enumerate(CHANNELS):
            if name in PAID_CHANNELS:
                counts[:, c], spend[:, c] = self._bought(name, hist_w[c])
            else:
                counts[:, c] = self.rng.poisson(expected[:, c])
        invited = self._invited(expected[:, CHANNELS.index("referral")], counts)
        return counts, spend, invited

    def _bought(self, name: str, usual_signups: float) -> tuple[np.ndarray, np.ndarray]:
        """Sign-ups and spend per day of a paid channel: installs at its price, dearer as the budget grows."""
        prof = CHANNEL_PROFILES[name]
        daily = self.plan.channel_budget.get(name, 0.0) / (self.days - CHANNEL_LEAD_DAYS)
        base = max(usual_signups / prof.signup_rate * prof.cpi, 1.0)      # a usual day's spend
        efficiency = min((daily / base) ** -SATURATION, 1.5) if daily > 0 else 0.0
        rate = np.full(self.days, daily / prof.cpi * efficiency)
        rate[:CHANNEL_LEAD_DAYS] = 0.0
        spend = np.where(rate > 0, daily, 0.0)
        return self.rng.binomial(self.rng.poisson(rate), prof.signup_rate), spend

    def _invited(self, usual: np.ndarray, counts: np.ndarray) -> int:
        """Extra referral sign-ups of an invite campaign (three times the usual), as many as its budget pays."""
        invite = next((c for c in self.camps if c.kind == "invite"), None)
        if invite is None:
            return 0
        start = invite.start_day - self.first
        extra = np.zeros(self.days, np.int64)
        extra[start:] = self.rng.poisson(2.0 * usual[start:])
        budget = next(p.budget for p in self.plan.campaigns if p.kind == "invite")
        kept = np.minimum(np.cumsum(extra), _units(budget, "invite"))
        counts[:, CHANNELS.index("referral")] += np.diff(np.r_[0, kept])
        return int(kept[-1])


class _Report:
    """The outcome tables of one run."""

    def __init__(self, fw: _Forward, pop: Population, counts: np.ndarray, spend: np.ndarray, invited: int,
                 state: LoopState, run: _Run) -> None:
        self.fw, self.pop, self.counts, self.spend, self.invited, self.state = fw, pop, counts, spend, invited, state
        self.user, day, self.orders = run.activity()
        self.d = day - fw.first
        self.n_old = fw.hist.pop.n
        self.amount = fw.rng.lognormal(4.55, 0.75, int(self.orders.sum()))

    def outcome(self) -> Outcome:
        return Outcome(self.fw.plan, self.summary(), self.weekly(), self.daily(), self.by_channel(), self.levers())

    def _active_in(self, lo: int, hi: int, platform: int | None = None) -> np.ndarray:
        """Distinct users active on days [lo, hi) of the run (of one platform)."""
        users = np.unique(self.user[(self.d >= lo) & (self.d < hi)])
        return users if platform is None else users[self.pop.platform[users] == platform]

    def weekly(self) -> pd.DataFrame:
        """Distinct active users per week of the run (a last short week if the run is not whole weeks)."""
        rows = []
        for lo in range(0, self.fw.days, 7):
            hi = min(lo + 7, self.fw.days)
            row = {"week": lo // 7 + 1, "first_day": lo, "last_day": hi - 1, "wau": self._active_in(lo, hi).size}
            row.update({f"wau_{p}": self._active_in(lo, hi, i).size for i, p in enumerate(PLATFORMS)})
            rows.append(row)
        return pd.DataFrame(rows).set_index("week")

    def daily(self) -> pd.DataFrame:
        fw, days = self.fw, self.fw.days
        start = pd.Timestamp(fw.cfg.start) + pd.Timedelta(days=fw.first)
        out = pd.DataFrame({"day": np.arange(days), "date": pd.date_range(start, periods=days, freq="D"),
                            "dau": np.bincount(self.d, minlength=days)})
        for i, p in enumerate(PLATFORMS):
            out[f"dau_{p}"] = np.bincount(self.d[self.pop.platform[self.user] == i], minlength=days)
        out["new_users"] = self.counts.sum(axis=1)
        out["orders"] = np.bincount(self.d, weights=self.orders, minlength=days).astype(np.int64)
        out["revenue"] = np.bincount(np.repeat(self.d, self.orders), weights=self.amount, minlength=days).round(2)
        out["channel_spend"] = self.spend.sum(axis=1).round(2)
        return out

    def _campaign_reach(self) -> dict[str, int]:
        """Whom each campaign reached: messages a push sent, users who joined, invites sent."""
        reach, camps = {}, iter(self.fw.camps)
        for p in self.fw.plan.campaigns:
            if p.kind == "push":
                reach[p.kind] = self.fw.pushed
            else:
                camp = next(camps)
                joined = int((self.state.joined[camp.campaign_id] >= 0).sum())
                reach[p.kind] = self.invited if p.kind == "invite" else joined
        return reach

    def _campaign_spent(self) -> dict[str, float]:
        """What each campaign paid out, CNY (never more than its budget)."""
        reach = self._campaign_reach()
        return {p.kind: round(min(CAMPAIGNS[p.kind].unit_cost * reach[p.kind], p.budget), 2)
                for p in self.fw.plan.campaigns}

    def _release_cost(self) -> float:
        return self.fw.hist.fix_cost(self.fw.plan.release_fix)

    def summary(self) -> pd.Series:
        days = self.fw.days
        last_week = self._active_in(days - 7, days)
        channel_spend, campaign_cost = float(self.spend.sum()), float(sum(self._campaign_spent().values()))
        d7 = self._day7_by_platform()
        return pd.Series({
            "days": days,
            "wau_last_week": int(last_week.size),
            **{f"wau_last_week_{p}": int((self.pop.platform[last_week] == i).sum()) for i, p in enumerate(PLATFORMS)},
            "dau_last_day": int((self.d == days - 1).sum()),
            "new_users": int(self.counts.sum()),
            "new_users_active_last_week": int((last_week >= self.n_old).sum()),
            "users_won_back": int(self.fw.returned.sum()) if self.fw.returned is not None else 0,
            "orders": int(self.orders.sum()),
            "revenue": round(float(self.amount.sum()), 2),
            "channel_spend": round(channel_spend, 2),
            "campaign_cost": round(campaign_cost, 2),
            "release_cost": self._release_cost(),
            "total_cost": round(channel_spend + campaign_cost + self._release_cost(), 2),
            **{f"day7_retention_{p}": d7[p] for p in PLATFORMS},
        }, dtype=object)

    def _day7_by_platform(self) -> dict[str, float]:
        """Day-7 retention of users who signed up in the run, by platform (NaN if none is old enough)."""
        signup = self.pop.signup_day[self.n_old:] - self.fw.first
        old_enough = signup + 7 <= self.fw.days - 1
        tenure = self.d - (self.pop.signup_day[self.user] - self.fw.first)
        came_back = np.zeros(self.pop.n, bool)
        came_back[self.user[tenure == 7]] = True
        out = {}
        for i, name in enumerate(PLATFORMS):
            mask = old_enough & (self.pop.platform[self.n_old:] == i)
            out[name] = float(came_back[self.n_old:][mask].mean()) if mask.any() else float("nan")
        return out

    def by_channel(self) -> pd.DataFrame:
        days = self.fw.days
        last_week = self._active_in(days - 7, days)
        new_active = last_week[last_week >= self.n_old]
        active = np.bincount(self.pop.channel[new_active], minlength=len(CHANNELS))
        out = pd.DataFrame({"spend": self.spend.sum(axis=0).round(2), "new_users": self.counts.sum(axis=0),
                            "active_last_week": active}, index=pd.Index(CHANNELS, name="channel"))
        out["cost_per_active_user"] = out["spend"] / out["active_last_week"].replace(0, np.nan)
        return out

    def levers(self) -> pd.DataFrame:
        plan, rows = self.fw.plan, []
        rows += [{"lever": f"channel_budget['{c}']", "committed": v,
                  "spent": round(float(self.spend[:, CHANNELS.index(c)].sum()), 2), "acts_from_day": CHANNEL_LEAD_DAYS}
                 for c, v in plan.channel_budget.items()]
        spent, reach = self._campaign_spent(), self._campaign_reach()
        rows += [{"lever": f"campaign '{c.kind}'", "committed": c.budget, "spent": spent[c.kind],
                  "acts_from_day": c.first_day, "reached": reach[c.kind],
                  "on_list": self.fw.push_list if c.kind == "push" else np.nan} for c in plan.campaigns]
        if plan.release_fix:
            cost, lead = self._release_cost(), RELEASE_FIXES[plan.release_fix].lead_days
            rows.append({"lever": f"release_fix '{plan.release_fix}'", "committed": cost, "spent": cost,
                         "acts_from_day": lead if self.fw.hist.bug_open else np.nan})
        columns = ["lever", "committed", "spent", "acts_from_day", "reached", "on_list"]
        return pd.DataFrame(rows, columns=columns).set_index("lever")


def _units(budget: float, kind: str) -> int:
    """How many coupons, messages or rewards ``budget`` pays for (500 CNY at 0.1 a message: 5,000, not 4,999)."""
    return int(np.floor(budget / CAMPAIGNS[kind].unit_cost + 1e-9))


def _concat(a: Population, b: Population) -> Population:
    """The users of ``a`` followed by those of ``b`` (every array field joined, the experiment arms too)."""
    parts = {}
    for f in fields(Population):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, np.ndarray):
            parts[f.name] = np.concatenate([x, y])
        elif isinstance(x, dict):
            parts[f.name] = {k: np.concatenate([v, y[k]]) for k, v in x.items()}
    return Population(**parts)

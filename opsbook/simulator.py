"""Play an operations plan forward from the end of a world's data (the capstone simulator).

The simulator re-runs the world's own behavioural model (``opsbook.world``)
up to the last day of the data, then keeps going for ``days`` more days under
your plan: channel budgets, campaigns and whether to ship a fix for the buggy
release. Same world, same plan, same seed: same outcome.

    from opsbook.simulator import simulate_plan
    plan = {
        "channel_budget": {"search_ads": 40_000, "content_marketing": 30_000},  # CNY over the whole run
        "campaigns": [{"kind": "coupon", "target": "dormant", "budget": 10_000}],
        "fix_release": True,
    }
    result = simulate_plan(plan, DATA_DIR, days=30, budget=100_000)
    result.summary          # one row of outcome metrics and costs
    result.daily            # one row per simulated day
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from opsbook.world.config import WorldConfig
from opsbook.world.generate import WORLD_META, config_from_meta, random_streams, run_history
from opsbook.world.model import (CHANNEL_PROFILES, TARGET_RULES, Campaign, DayFactors, LoopState,
                                 Population, channel_day_weights, day_factors, new_users, simulate)
from opsbook.world.schema import CHANNELS, PAID_CHANNELS, PLATFORMS

CAMPAIGN_COST = {"coupon": 15.0, "check_in": 3.0, "lottery": 2.4, "invite": 10.0}
"""What one participant costs, CNY: a claimed coupon, a check-in reward, the expected lottery prize,
the cash for one invited friend who signs up."""
FIX_LEAD_DAYS = 3          # a fix reaches users three days after the run starts
SATURATION = 0.3           # doubling a channel's budget buys 2 ** 0.7 = 1.6 times the installs
MAX_DAYS = 90


class PlanError(ValueError):
    """A plan the simulator cannot run; the message says what to change."""


@dataclass(frozen=True)
class CampaignPlan:
    kind: str
    budget: float
    target: str | None = None


@dataclass(frozen=True)
class Plan:
    """Budgets in CNY for the whole run; campaigns start on the first simulated day."""

    channel_budget: Mapping[str, float] = field(default_factory=dict)
    campaigns: tuple[CampaignPlan, ...] = ()
    fix_release: bool = False

    @classmethod
    def from_dict(cls, plan: Mapping[str, Any] | "Plan") -> "Plan":
        """Check a plan written as a dict (or a Plan) and return it as a Plan."""
        if isinstance(plan, Plan):
            plan = {"channel_budget": dict(plan.channel_budget), "fix_release": plan.fix_release,
                    "campaigns": [vars(c) for c in plan.campaigns]}
        if not isinstance(plan, Mapping):
            raise PlanError(f"a plan is a dict with keys channel_budget, campaigns, fix_release; got {type(plan).__name__}")
        unknown = set(plan) - {"channel_budget", "campaigns", "fix_release"}
        if unknown:
            raise PlanError(f"unknown plan keys {sorted(unknown)}; use channel_budget, campaigns, fix_release")
        budgets = dict(plan.get("channel_budget", {}))
        for channel, amount in budgets.items():
            if channel not in CHANNELS:
                raise PlanError(f"unknown channel {channel!r}; paid channels are {', '.join(PAID_CHANNELS)}")
            if channel not in PAID_CHANNELS:
                raise PlanError(f"{channel} is a free channel: it takes no budget (paid: {', '.join(PAID_CHANNELS)})")
            _check_amount(f"channel_budget[{channel!r}]", amount)
        campaigns = []
        for i, c in enumerate(plan.get("campaigns", [])):
            if not isinstance(c, Mapping) or "kind" not in c or "budget" not in c:
                raise PlanError(f"campaigns[{i}] must be a dict with kind, budget (and target for a coupon)")
            if c["kind"] not in CAMPAIGN_COST:
                raise PlanError(f"campaigns[{i}]: unknown kind {c['kind']!r}; choose from {', '.join(CAMPAIGN_COST)}")
            _check_amount(f"campaigns[{i}].budget", c["budget"])
            target = c.get("target")
            if c["kind"] == "coupon" and target not in TARGET_RULES:
                raise PlanError(f"campaigns[{i}]: a coupon needs a target, one of {', '.join(TARGET_RULES)}")
            if c["kind"] != "coupon" and target is not None:
                raise PlanError(f"campaigns[{i}]: only a coupon is sent to a target list; drop target for {c['kind']}")
            campaigns.append(CampaignPlan(c["kind"], float(c["budget"]), target))
        if len({c.kind for c in campaigns}) < len(campaigns):
            raise PlanError("run each kind of campaign at most once")
        fix = plan.get("fix_release", False)
        if not isinstance(fix, bool):
            raise PlanError(f"fix_release must be True or False, not {fix!r}")
        return cls({k: float(v) for k, v in budgets.items()}, tuple(campaigns), fix)

    @property
    def total_cost_cap(self) -> float:
        return sum(self.channel_budget.values()) + sum(c.budget for c in self.campaigns)


def _check_amount(name: str, amount: Any) -> None:
    if isinstance(amount, bool) or not isinstance(amount, (int, float, np.integer, np.floating)):
        raise PlanError(f"{name} must be a number of CNY, not {amount!r}")
    if not np.isfinite(amount) or amount < 0:
        raise PlanError(f"{name} must be a finite amount >= 0 CNY, not {amount}")


@dataclass
class Outcome:
    plan: Plan
    summary: pd.Series
    daily: pd.DataFrame
    by_channel: pd.DataFrame


@dataclass
class _History:
    config: WorldConfig
    factors: DayFactors
    pop: Population
    state: LoopState


def simulate_plan(plan: Mapping[str, Any] | Plan, data_dir: str | Path | None = None, days: int = 30,
                  budget: float | None = None, seed: int = 0) -> Outcome:
    """Run ``plan`` for ``days`` days after the world's data ends; reject it if it costs more than ``budget``."""
    plan = Plan.from_dict(plan)
    if not isinstance(days, (int, np.integer)) or not 1 <= days <= MAX_DAYS:
        raise PlanError(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    if budget is not None and plan.total_cost_cap > budget + 1e-6:
        raise PlanError(f"the plan commits {plan.total_cost_cap:,.0f} CNY, over the budget of {budget:,.0f} CNY "
                        f"by {plan.total_cost_cap - budget:,.0f}")
    hist = _history(_world_key(data_dir))
    return _Forward(hist, plan, int(days), seed).run()


def _world_key(data_dir: str | Path | None) -> tuple:
    from opsbook.data import resolve_data_dir
    folder = resolve_data_dir(data_dir)
    meta_path = folder / WORLD_META
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path} is missing: the simulator needs the {WORLD_META} written by "
                                "`opsbook world generate` to re-run this world's model")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    n_users = len(pd.read_csv(folder / "users.csv.gz", usecols=["user_id"]))
    return tuple(sorted(meta.items())) + (("users_rows", n_users),)


@lru_cache(maxsize=4)
def _history(key: tuple) -> _History:
    """Re-run the world's model up to the end of its data (cached: about a second per world)."""
    meta = dict(key)
    config = config_from_meta(meta)
    factors, pop, _, state = run_history(config, random_streams(config))
    expected = pop.n + int(round(config.bot_share * config.n_users))
    if meta["users_rows"] != expected:
        raise ValueError(f"users.csv.gz has {meta['users_rows']} rows but re-running {WORLD_META} gives {expected}: "
                         "the folder was edited or made by another generator; regenerate it")
    return _History(config, factors, pop, state)


class _Forward:
    def __init__(self, hist: _History, plan: Plan, days: int, seed: int) -> None:
        self.hist, self.plan, self.days = hist, plan, days
        self.cfg = hist.config
        self.rng = np.random.default_rng([self.cfg.seed, seed, 618])
        self.first = self.cfg.days
        self.factors = day_factors(_replace_days(self.cfg, self.first + days))

    def run(self) -> Outcome:
        camps = self._campaigns()
        counts, spend = self._signups(camps)
        fresh = new_users(self.cfg, self.rng, counts, first_day=self.first)
        pop = _concat(self.hist.pop, fresh)
        state = _copy_state(self.hist.state).grown(pop.n)
        end_bug = self.first + FIX_LEAD_DAYS if self.plan.fix_release else self.first + self.days
        act, state = simulate(self.cfg, pop, self.factors, self.rng, camps, range(self.first, self.first + self.days),
                              state=state, bug_window=(self.cfg.bug_start_day, end_bug))
        return self._outcome(pop, fresh, act, camps, counts, spend)

    def _campaigns(self) -> list[Campaign]:
        out = []
        for i, c in enumerate(self.plan.campaigns):
            cap = int(c.budget // CAMPAIGN_COST[c.kind])
            out.append(Campaign(100 + i, f"plan {c.kind}", c.kind, self.first, self.first + self.days, 0.0, "", "",
                                target=c.target, max_joins=None if c.kind == "invite" else cap))
        return out

    def _signups(self, camps: list[Campaign]) -> tuple[np.ndarray, np.ndarray]:
        """New users per (day, channel): free channels as in the last four weeks, paid ones bought by the plan."""
        cfg = self.cfg
        hist_w = channel_day_weights(cfg, self.hist.factors)[-28:].mean(axis=0) * cfg.n_users
        weekday = self.factors.signup[self.first:] / self.factors.signup[self.first - 28:self.first].mean()
        expected = np.outer(weekday, hist_w)                       # a plain day's signups, no campaign
        counts = np.zeros((self.days, len(CHANNELS)), np.int64)
        spend = np.zeros((self.days, len(CHANNELS)))
        for c, name in enumerate(CHANNELS):
            prof = CHANNEL_PROFILES[name]
            if name in PAID_CHANNELS:
                daily = self.plan.channel_budget.get(name, 0.0) / self.days
                base = max(hist_w[c] / prof.signup_rate * prof.cpi, 1.0)      # a usual day's spend
                efficiency = min((daily / base) ** -SATURATION, 1.5) if daily > 0 else 0.0
                installs = self.rng.poisson(np.full(self.days, daily / prof.cpi * efficiency))
                counts[:, c] = self.rng.binomial(installs, prof.signup_rate)
                spend[:, c] = daily
            else:
                lam = expected[:, c]
                if name == "referral" and any(k.kind == "invite" for k in camps):
                    lam = lam * 3.0
                counts[:, c] = self.rng.poisson(lam)
        invite = next((k for k, p in zip(camps, self.plan.campaigns) if p.kind == "invite"), None)
        if invite is not None:       # the cash per invited friend is capped by the campaign budget
            ref = CHANNELS.index("referral")
            base = self.rng.poisson(expected[:, ref])
            extra = counts[:, ref] - np.minimum(base, counts[:, ref])
            affordable = int(self.plan.campaigns[camps.index(invite)].budget // CAMPAIGN_COST["invite"])
            keep = np.minimum(np.cumsum(extra), affordable)
            counts[:, ref] = np.minimum(base, counts[:, ref]) + np.diff(np.r_[0, keep])
            self.referral_rewards = int(keep[-1])
        else:
            self.referral_rewards = 0
        return counts, spend

    def _outcome(self, pop, fresh, act, camps, counts, spend) -> Outcome:
        cfg, rng, first, days = self.cfg, self.rng, self.first, self.days
        d = act.day - first
        amount = rng.lognormal(4.55, 0.75, int(act.orders.sum()))
        revenue_by_day = np.bincount(np.repeat(d, act.orders), weights=amount, minlength=days)
        reward_cost = sum(CAMPAIGN_COST[p.kind] * int((act.joined[c.campaign_id] >= 0).sum())
                          for c, p in zip(camps, self.plan.campaigns) if p.kind != "invite")
        reward_cost += CAMPAIGN_COST["invite"] * self.referral_rewards
        dau = np.bincount(d, minlength=days)
        last_week = np.unique(act.user[d >= days - 7])
        # Retained: active in the last week and past their own first week by then.
        settled = pop.signup_day[last_week] <= first + days - 14
        retained = last_week[settled]
        n_old = self.hist.pop.n
        new_mask = np.zeros(pop.n, bool)
        new_mask[n_old:] = True
        retained_new = new_mask[retained].sum()
        d7 = self._day7_by_platform(pop, act, n_old)
        start = pd.Timestamp(cfg.start) + pd.Timedelta(days=first)
        daily = pd.DataFrame({
            "date": pd.date_range(start, periods=days, freq="D"),
            "dau": dau, "new_users": counts.sum(axis=1),
            "orders": np.bincount(d, weights=act.orders, minlength=days).astype(np.int64),
            "revenue": revenue_by_day.round(2), "channel_spend": spend.sum(axis=1).round(2),
        })
        channel_spend = float(spend.sum())
        summary = pd.Series({
            "days": days,
            "retained_users": int(retained.size),
            "active_users_last_7_days": int(last_week.size),
            "dau_last_day": int(dau[-1]),
            "new_users": int(counts.sum()),
            "new_users_retained": int(retained_new),
            "orders": int(act.orders.sum()),
            "revenue": round(float(amount.sum()), 2),
            "channel_spend": round(channel_spend, 2),
            "reward_cost": round(float(reward_cost), 2),
            "total_cost": round(channel_spend + float(reward_cost), 2),
            "day7_retention_ios": d7["ios"],
            "day7_retention_android": d7["android"],
        }, dtype=object)
        ch = pd.Categorical.from_codes(pop.channel[n_old:], CHANNELS)
        kept = np.isin(np.arange(n_old, pop.n), retained)
        by_channel = pd.DataFrame({
            "spend": spend.sum(axis=0).round(2),
            "new_users": counts.sum(axis=0),
            "retained_users": pd.Series(kept).groupby(ch, observed=False).sum().to_numpy(),
        }, index=pd.Index(CHANNELS, name="channel"))
        by_channel["cost_per_retained_user"] = by_channel["spend"] / by_channel["retained_users"].replace(0, np.nan)
        return Outcome(self.plan, summary, daily, by_channel)

    def _day7_by_platform(self, pop, act, n_old) -> dict[str, float]:
        """Day-7 retention of users who signed up in the run, by platform (NaN if none is old enough)."""
        sd = pop.signup_day[n_old:]
        last = self.first + self.days - 1
        old_enough = sd + 7 <= last
        came_back = np.zeros(pop.n, bool)
        tenure = act.day - pop.signup_day[act.user]
        came_back[act.user[tenure == 7]] = True
        out = {}
        for i, name in enumerate(PLATFORMS):
            mask = old_enough & (pop.platform[n_old:] == i)
            out[name] = float(came_back[n_old:][mask].mean()) if mask.any() else float("nan")
        return out


def _replace_days(config: WorldConfig, days: int) -> WorldConfig:
    from dataclasses import replace
    return replace(config, days=days)


def _concat(a: Population, b: Population) -> Population:
    fields = ("signup_sec", "channel", "platform", "female", "age", "engagement", "spend", "churn", "aha",
              "creator", "sessions_rate", "events_rate")
    out = Population(**{f: np.concatenate([getattr(a, f), getattr(b, f)]) for f in fields})
    out.experiment_variant = {k: np.concatenate([v, b.experiment_variant[k]]) for k, v in a.experiment_variant.items()}
    return out


def _copy_state(s: LoopState) -> LoopState:
    return LoopState(s.alive.copy(), s.last_active.copy(), s.last_order.copy(),
                     {k: v.copy() for k, v in s.joined.items()}, {k: v.copy() for k, v in s.targets.items()})

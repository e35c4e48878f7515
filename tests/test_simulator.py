"""The capstone simulator: it continues the world as the data leaves it, every lever does what the menu says
(cost, lead time, effect), plans are checked strictly, runs are deterministic, and the capstone's target needs a
plan: no single lever meets it, the reference plan does on several seeds and worlds."""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from opsbook.data import load_world
from opsbook.simulator import CAMPAIGNS, RELEASE_FIXES, PlanError, levers, plan_cost, simulate_plan
from opsbook.simulator import _history as history
from opsbook.world.config import WorldConfig
from opsbook.world.generate import generate_world, write_world

USUAL = {"search_ads": 10_000, "social_ads": 9_000, "content_marketing": 10_000, "offline_promo": 12_000}
BROKEN, OTHER = "android", "ios"      # the default world's buggy release is on android
TINY = replace(WorldConfig(), seed=5, n_users=3_000, days=175)     # quick to replay, still broken at the end


def _ratio(out) -> float:
    """The broken platform's weekly active users ÷ the other's, in the last week of the run."""
    return out.summary[f"wau_last_week_{BROKEN}"] / out.summary[f"wau_last_week_{OTHER}"]


def _daily_ratio(out) -> pd.Series:
    return out.daily[f"dau_{BROKEN}"] / out.daily[f"dau_{OTHER}"]


def _mean(plan: dict, metric: str, seeds=range(3), world=None) -> float:
    return float(np.mean([simulate_plan(plan, world, days=28, seed=s).summary[metric] for s in seeds]))


# --------------------------------------------------------------------------- determinism and validation
def test_same_plan_and_seed_give_the_same_outcome():
    plan = {"channel_budget": USUAL, "campaigns": [{"kind": "push", "target": "dormant", "budget": 200}],
            "release_fix": "hotfix"}
    a, b = simulate_plan(plan, days=20, seed=1), simulate_plan(plan, days=20, seed=1)
    pd.testing.assert_series_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.daily, b.daily)
    pd.testing.assert_frame_equal(a.weekly, b.weekly)
    assert not simulate_plan(plan, days=20, seed=2).daily.equals(a.daily)


@pytest.mark.parametrize("plan, budget, message", [
    ({"channel_budget": {"search_ads": 60_000}}, 50_000, "over the budget of 50,000 CNY by 10,000"),
    ({"channel_budget": {"search_ads": 49_000}, "release_fix": "rollback"}, 50_000, "over the budget of 50,000 CNY"),
    ({"channel_budget": {"tv_ads": 1_000}}, None, "unknown channel 'tv_ads'"),
    ({"channel_budget": {"search_ads": -5}}, None, "must be a finite amount >= 0"),
    ({"channel_budget": {"organic_search": 100}}, None, "free channel"),
    ({"channel_budget": {"search_ads": "lots"}}, None, "must be a number of CNY"),
    ({"channel_budget": [("search_ads", 5)]}, None, "channel_budget is a dict"),
    ({"campaigns": [{"kind": "coupon", "budget": 100}]}, None, "a coupon needs a target"),
    ({"campaigns": [{"kind": "push", "budget": 100}]}, None, "a push needs a target"),
    ({"campaigns": [{"kind": "raffle", "budget": 100}]}, None, "unknown kind 'raffle'"),
    ({"campaigns": [{"kind": "lottery", "budget": 10, "target": "dormant"}]}, None, "only a coupon or a push"),
    ({"campaigns": [{"kind": "coupon", "target": "dormant", "budget": 10, "start": 1}]}, None,
     "a coupon takes 3 days to prepare"),
    ({"campaigns": [{"kind": "push", "target": "all", "budget": 10, "start": 2.5}]}, None, "a whole number >= 1"),
    ({"campaigns": [{"kind": "push", "target": "all", "budget": 10, "start": 40}]}, None, "after a run of 28 days"),
    ({"campaigns": [{"kind": "coupon", "target": "all", "budget": 10, "platform": "ios"}]}, None,
     "only a push can be limited to one platform"),
    ({"campaigns": [{"kind": "push", "target": "all", "budget": 10, "platform": "web"}]}, None,
     "only a push can be limited"),
    ({"campaigns": [{"kind": "push", "target": "all", "budget": 10, "when": 3}]}, None, "unknown keys ['when']"),
    ({"campaigns": [{"kind": "check_in", "budget": 1}, {"kind": "check_in", "budget": 2}]}, None, "at most once"),
    ({"release_fix": "patch"}, None, "release_fix must be one of 'hotfix', 'rollback' or None"),
    ({"release_fix": True}, None, "True/False was the old format"),
    ({"fix_release": True}, None, "fix_release is now release_fix"),
    ({"budgets": {}}, None, "unknown plan keys"),
    ("fix it", None, "a plan is a dict"),
])
def test_invalid_plans_are_rejected_with_a_clear_message(plan, budget, message):
    with pytest.raises(PlanError, match=re.escape(message)):
        simulate_plan(plan, days=28, budget=budget)


def test_days_must_be_in_range():
    for days in (0, 91, 2.5, True):
        with pytest.raises(PlanError, match="days must be"):
            simulate_plan({}, days=days)


# --------------------------------------------------------------------------- the world as the data leaves it
def test_a_release_still_broken_at_the_end_stays_broken_until_a_fix():
    assert history(TINY).bug_open
    out = simulate_plan({"channel_budget": {"search_ads": 2_000}}, TINY, days=28, seed=0)
    s = out.summary
    assert s[f"day7_retention_{BROKEN}"] < 0.5 * s[f"day7_retention_{OTHER}"], "new users still meet the bug"
    healthy = simulate_plan({"channel_budget": {"search_ads": 2_000}}, replace(TINY, bug_days_before_end=0), days=28)
    assert _daily_ratio(out).mean() < 0.5 * _daily_ratio(healthy).mean(), "the platform stays broken all month"


def test_a_world_whose_app_works_at_the_end_keeps_working():
    healthy = replace(TINY, bug_days_before_end=0)          # the buggy release is not out when the data ends
    assert not history(healthy).bug_open
    plain = simulate_plan({"channel_budget": {"search_ads": 2_000}}, healthy, days=28, seed=0)
    s = plain.summary
    assert s[f"day7_retention_{BROKEN}"] > 0.7 * s[f"day7_retention_{OTHER}"], "the simulator broke a working app"
    assert _daily_ratio(plain).iloc[-7:].mean() > 0.85 * _daily_ratio(plain).iloc[:7].mean()
    fixed = simulate_plan({"channel_budget": {"search_ads": 2_000}, "release_fix": "hotfix"}, healthy, days=28, seed=0)
    pd.testing.assert_frame_equal(plain.weekly, fixed.weekly)     # nothing to repair: the fix changes no user
    assert np.isnan(fixed.levers.loc["release_fix 'hotfix'", "acts_from_day"])


# --------------------------------------------------------------------------- each lever: cost, lead time, effect
def test_the_menu_lists_every_lever_with_cost_and_lead_time():
    menu = levers()
    assert {"campaign 'push'", "release_fix 'hotfix'", "release_fix 'rollback'"} <= set(menu.index)
    hist = history(TINY)
    for fix, spec in RELEASE_FIXES.items():
        assert menu.loc[f"release_fix '{fix}'", "lead time (days)"] == spec.lead_days
        assert hist.fix_cost(fix) == pytest.approx(spec.cost_per_user * hist.platform_users)
    assert RELEASE_FIXES["hotfix"].lead_days > RELEASE_FIXES["rollback"].lead_days, "the hotfix is the slow one"
    assert RELEASE_FIXES["hotfix"].cost_per_user < RELEASE_FIXES["rollback"].cost_per_user, "... and the cheap one"
    assert RELEASE_FIXES["rollback"].feature_loss > 0 == RELEASE_FIXES["hotfix"].feature_loss


def test_costs_follow_the_plan():
    plan = {"channel_budget": USUAL, "campaigns": [{"kind": "check_in", "budget": 600}], "release_fix": "hotfix"}
    out = simulate_plan(plan, days=28, budget=60_000)
    s = out.summary
    assert s["channel_spend"] == pytest.approx(sum(USUAL.values()))
    assert 0 < s["campaign_cost"] <= 600
    assert s["release_cost"] == pytest.approx(history(WorldConfig()).fix_cost("hotfix"))
    assert s["total_cost"] == pytest.approx(s["channel_spend"] + s["campaign_cost"] + s["release_cost"])
    assert plan_cost(plan) == pytest.approx(sum(USUAL.values()) + 600 + s["release_cost"])
    assert (out.daily["channel_spend"] > 0).all(), "channel budgets act from day 0"


def test_the_hotfix_repairs_after_its_lead_time_and_keeps_the_feature():
    lead = RELEASE_FIXES["hotfix"].lead_days
    none = simulate_plan({"channel_budget": USUAL}, days=28, seed=0)
    hot = simulate_plan({"channel_budget": USUAL, "release_fix": "hotfix"}, days=28, seed=0)
    before, after = slice(0, lead), slice(lead + 8, 28)
    assert _daily_ratio(hot).iloc[before].mean() == pytest.approx(_daily_ratio(none).iloc[before].mean(), rel=0.08)
    assert _daily_ratio(hot).iloc[after].mean() > 1.4 * _daily_ratio(none).iloc[after].mean()
    assert hot.levers.loc["release_fix 'hotfix'", "acts_from_day"] == lead
    # users update over days: the first day after it lands is not yet the full effect
    assert _daily_ratio(hot).iloc[lead] < _daily_ratio(hot).iloc[after].mean()


def test_the_rollback_repairs_everyone_fast_but_costs_a_feature():
    lead = RELEASE_FIXES["rollback"].lead_days
    budget = {"search_ads": 10_000}
    none = simulate_plan({"channel_budget": budget}, days=28, seed=0)
    roll = simulate_plan({"channel_budget": budget, "release_fix": "rollback"}, days=28, seed=0)
    hot = simulate_plan({"channel_budget": budget, "release_fix": "hotfix"}, days=28, seed=0)
    week = slice(lead + 1, lead + 8)
    assert _daily_ratio(roll).iloc[week].mean() > 1.4 * _daily_ratio(none).iloc[week].mean()
    assert _daily_ratio(roll).iloc[week].mean() > 1.3 * _daily_ratio(hot).iloc[week].mean(), "faster than a hotfix"
    assert roll.levers.loc["release_fix 'rollback'", "acts_from_day"] == lead
    assert roll.summary["release_cost"] > 4 * hot.summary["release_cost"]
    # once both have repaired everyone, the rolled-back platform's users come on fewer days of the week (stickiness)
    def sticky(out, platform: str) -> float:
        return out.daily[f"dau_{platform}"].iloc[21:].mean() / out.summary[f"wau_last_week_{platform}"]

    assert sticky(roll, BROKEN) < 0.92 * sticky(hot, BROKEN)
    assert sticky(roll, OTHER) == pytest.approx(sticky(hot, OTHER), rel=0.08), "the other platform keeps its feature"


def test_a_push_brings_back_users_who_left_if_the_app_works_when_they_return():
    reach = {"kind": "push", "target": "all", "platform": BROKEN, "budget": 1_500}
    base = {"channel_budget": USUAL, "release_fix": "hotfix"}
    late = simulate_plan({**base, "campaigns": [{**reach, "start": 18}]}, days=28, seed=0)
    early = simulate_plan({**base, "campaigns": [{**reach, "start": 1}]}, days=28, seed=0)
    none = simulate_plan(base, days=28, seed=0)
    assert late.summary["users_won_back"] > 500 and none.summary["users_won_back"] == 0
    assert late.levers.loc["campaign 'push'", "acts_from_day"] == 18
    assert _ratio(late) > 1.5 * _ratio(none)
    assert _ratio(late) > 1.3 * _ratio(early), "back in a broken app, they leave again"
    assert 0 < late.summary["campaign_cost"] <= 1_500
    sent, listed = late.levers.loc["campaign 'push'", ["reached", "on_list"]]
    assert 0 < sent == listed <= 15_000, "the budget pays for the whole list"
    short = simulate_plan({**base, "campaigns": [{**reach, "budget": 500, "start": 18}]}, days=28, seed=0)
    sent, listed = short.levers.loc["campaign 'push'", ["reached", "on_list"]]
    assert sent == 5_000 < listed, "a short budget sends one message per 0.1 CNY and says how many it left out"


def test_a_push_reaches_only_as_many_users_as_its_budget_pays_for_and_only_its_platform():
    small = simulate_plan({"campaigns": [{"kind": "push", "target": "all", "budget": 50}]}, days=10, seed=0)
    assert small.summary["campaign_cost"] == pytest.approx(50.0)  # 500 messages at 0.1 CNY, not 499
    assert small.levers.loc["campaign 'push'", "reached"] == 50 / CAMPAIGNS["push"].unit_cost
    assert small.summary["users_won_back"] <= 500
    other = simulate_plan({"release_fix": "rollback", "campaigns": [{"kind": "push", "target": "all",
                                                                      "platform": OTHER, "budget": 2_000}]},
                          days=28, seed=0)
    mine = simulate_plan({"release_fix": "rollback", "campaigns": [{"kind": "push", "target": "all",
                                                                     "platform": BROKEN, "budget": 2_000}]},
                         days=28, seed=0)
    assert _ratio(mine) > 1.3 * _ratio(other)


def test_a_win_back_coupon_starts_after_its_lead_time_and_stays_within_its_budget():
    base = {"channel_budget": USUAL, "release_fix": "rollback"}
    coupon = {**base, "campaigns": [{"kind": "coupon", "target": "dormant", "budget": 3_000}]}
    out = simulate_plan(coupon, days=28, seed=0)
    assert out.levers.loc["campaign 'coupon'", "acts_from_day"] == CAMPAIGNS["coupon"].lead_days
    assert 0 < out.summary["campaign_cost"] <= 3_000
    assert _mean(coupon, "wau_last_week") > _mean(base, "wau_last_week")


def test_channel_budgets_buy_new_users_with_diminishing_returns():
    one = _mean({"channel_budget": {"social_ads": 5_000}}, "new_users")
    two = _mean({"channel_budget": {"social_ads": 10_000}}, "new_users")
    none = _mean({}, "new_users")
    assert none < one < two < none + 2 * (one - none)


def test_an_invite_campaign_brings_referral_signups_within_its_budget():
    out = simulate_plan({"campaigns": [{"kind": "invite", "budget": 500}]}, days=28, seed=0)
    plain = simulate_plan({}, days=28, seed=0)
    assert out.by_channel.loc["referral", "new_users"] > plain.by_channel.loc["referral", "new_users"]
    assert 0 < out.summary["campaign_cost"] <= 500


def test_runs_on_another_world_and_refuses_an_edited_one(tmp_path):
    cfg = replace(WorldConfig(), seed=11, n_users=3_000)
    write_world(generate_world(cfg, progress=False), tmp_path / "w", tmp_path / "k.json")
    out = simulate_plan({"channel_budget": {"search_ads": 3_000}}, tmp_path / "w", days=15)
    assert len(out.daily) == 15 and out.summary["new_users"] > 0
    assert out.daily["date"].iloc[0] == pd.Timestamp(cfg.start) + pd.Timedelta(days=cfg.days)
    assert list(out.weekly.index) == [1, 2, 3] and out.weekly["last_day"].iloc[-1] == 14

    edited = tmp_path / "edited"
    shutil.copytree(tmp_path / "w", edited)
    users = pd.read_csv(edited / "users.csv.gz")
    users.iloc[:-5].to_csv(edited / "users.csv.gz", index=False)
    with pytest.raises(ValueError, match="re-running world.json"):
        simulate_plan({}, edited, days=5)
    (edited / "world.json").unlink()
    with pytest.raises(FileNotFoundError, match="world.json"):
        simulate_plan({}, edited, days=5)


# --------------------------------------------------------------------------- the capstone's target needs a plan
def _capstone(world_dir: Path | None) -> tuple[float, float, dict, dict]:
    """(target ratio, budget, last month's channels, the reference plan) as the capstone computes them."""
    w = load_world(world_dir, tables=["users", "events", "channel_spend"])
    ev, us, cs, last = w["events"], w["users"], w["channel_spend"], w.period.last_day
    day, plat = ev["event_time"].dt.normalize(), ev["user_id"].map(us.set_index("user_id")["platform"])

    def weekly(end: pd.Timestamp) -> pd.Series:
        inside = (day > end - pd.Timedelta(days=7)) & (day <= end)
        return ev["user_id"][inside].groupby(plat[inside]).nunique()

    before, now = weekly(last - pd.Timedelta(days=28)), weekly(last)
    assert (now / before).idxmin() == BROKEN
    target = 0.9 * before[BROKEN] / before[OTHER]
    spend = cs[cs["date"] > last - pd.Timedelta(days=28)].groupby("channel")["spend"].sum()
    channels = {str(c): float(v) for c, v in spend.items() if v > 0}
    budget = math.ceil(1.1 * sum(channels.values()) / 1000) * 1000
    reach = math.ceil(0.12 * int((us["platform"] == BROKEN).sum()))
    room = budget - plan_cost({"release_fix": "hotfix"}, world_dir) - reach
    lands = RELEASE_FIXES["hotfix"].lead_days
    reference = {"channel_budget": {c: v * min(1.0, room / sum(channels.values())) for c, v in channels.items()},
                 "campaigns": [{"kind": "push", "target": "all", "platform": BROKEN, "budget": reach,
                                "start": lands + 6}],
                 "release_fix": "hotfix"}
    return target, budget, channels, reference


def _single_levers(world_dir: Path | None, budget: float, channels: dict) -> dict[str, dict]:
    """Plans that pull one lever on top of last month's channels (trimmed to fit), or put everything in one."""
    def fit(room: float) -> dict:
        return {c: v * min(1.0, room / sum(channels.values())) for c, v in channels.items()}

    push = {"kind": "push", "target": "all", "platform": BROKEN, "budget": round(0.05 * budget)}
    fixes = {f: budget - plan_cost({"release_fix": f}, world_dir) for f in RELEASE_FIXES}
    return {
        "last month's channels": {"channel_budget": channels},
        "all the budget on channels": {"channel_budget": {c: v * budget / sum(channels.values())
                                                          for c, v in channels.items()}},
        "the hotfix": {"channel_budget": fit(fixes["hotfix"]), "release_fix": "hotfix"},
        "the rollback": {"channel_budget": fit(fixes["rollback"]), "release_fix": "rollback"},
        "a win-back push": {"channel_budget": fit(budget - push["budget"]), "campaigns": [push]},
        "a win-back coupon": {"channel_budget": fit(0.8 * budget),
                              "campaigns": [{"kind": "coupon", "target": "dormant", "budget": 0.2 * budget}]},
        "all the budget on a push": {"campaigns": [{**push, "budget": budget}]},
    }


@pytest.mark.slow
@pytest.mark.parametrize("world", ["default", "small_world", "long_world"])
def test_no_single_lever_meets_the_target_and_the_reference_plan_does_on_several_seeds(world, request):
    world_dir = None if world == "default" else request.getfixturevalue(world)
    target, budget, channels, reference = _capstone(world_dir)

    def ratios(plan: dict) -> list[float]:
        return [_ratio(simulate_plan(plan, world_dir, days=28, budget=budget, seed=s)) for s in range(3)]

    met = {name: ratios(plan) for name, plan in _single_levers(world_dir, budget, channels).items()}
    alone = {name: [round(r / target, 2) for r in rs] for name, rs in met.items() if max(rs) >= target}
    assert not alone, f"single levers meet the target {target:.3f} (ratio ÷ target per seed): {alone}"
    best = max(max(rs) for rs in met.values())
    assert best < 0.92 * target, f"a single lever comes within 8 % of the target: {best:.3f} vs {target:.3f}"
    reached = ratios(reference)
    assert min(reached) >= 1.05 * target, f"the reference plan: {[round(r, 3) for r in reached]} vs {target:.3f}"

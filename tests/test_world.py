"""The world generator: determinism, integrity, and every planted truth found by a short analysis.

Planted truths are checked on the committed default world and on a world with
another seed at a third of the size, with the same analysis and no numbers
copied from either: what the answer key says must be what the data shows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from opsbook.data import load_world
from opsbook.world.config import WorldConfig
from opsbook.world.generate import generate_world, write_world
from opsbook.world.io import MANIFEST
from opsbook.world.schema import PAID_CHANNELS, TABLES
from opsbook.world.validate import validate_world

REPO = Path(__file__).resolve().parents[1]
DEFAULT = WorldConfig()
SMALL = replace(DEFAULT, seed=7, n_users=DEFAULT.n_users // 3)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small_world_dir(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("small") / "world"
    key = out.parent / "key.json"
    write_world(generate_world(SMALL, progress=False), out, key)
    return out, json.loads(key.read_text())


@pytest.fixture(scope="module", params=["default", "small"])
def world_and_key(request, small_world_dir) -> tuple[dict[str, pd.DataFrame], dict]:
    if request.param == "default":
        key = json.loads((REPO / "autograder" / "answer_key.json").read_text())
        return load_world(REPO / "datasets"), key
    folder, key = small_world_dir
    return load_world(folder), key


# --- determinism ---------------------------------------------------------------------------

@pytest.mark.slow
def test_default_world_regenerates_byte_for_byte(tmp_path):
    """`make data` reproduces the committed datasets/ exactly (and its answer key)."""
    write_world(generate_world(DEFAULT, progress=False), tmp_path / "w", tmp_path / "key.json")
    committed = REPO / "datasets"
    for name, data in _files(tmp_path / "w").items():
        assert data == (committed / name).read_bytes(), f"{name} differs from the committed default world"
    assert (tmp_path / "key.json").read_bytes() == (REPO / "autograder" / "answer_key.json").read_bytes()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    cfg = replace(DEFAULT, n_users=2_000)
    for name, c in (("a", cfg), ("b", cfg), ("c", replace(cfg, seed=cfg.seed + 1))):
        write_world(generate_world(c, progress=False), tmp_path / name, tmp_path / f"{name}.json")
    a, b, c = (_files(tmp_path / n) for n in "abc")
    assert a == b
    differing = [n for n in a if n.endswith(".csv.gz") and a[n] != c[n]]
    assert len(differing) >= len(TABLES) - 1, f"another seed changed only {differing}"
    assert validate_world(tmp_path / "c") == []


@pytest.mark.parametrize("locale", ["en_US", "zh_CN"])
def test_locales_generate_and_validate(tmp_path, locale):
    write_world(generate_world(replace(DEFAULT, n_users=1_500, locale=locale), progress=False), tmp_path / "w",
                tmp_path / "k.json")
    assert validate_world(tmp_path / "w") == []
    users = pd.read_csv(tmp_path / "w" / "users.csv.gz")
    has_cjk = users["name"].str.contains(r"[\u4e00-\u9fff]").mean()
    assert has_cjk > 0.9 if locale == "zh_CN" else has_cjk == 0


def test_committed_world_is_valid_and_small():
    folder = REPO / "datasets"
    assert validate_world(folder) == []
    assert sum(p.stat().st_size for p in folder.iterdir()) < 30 * 2**20
    assert (folder / MANIFEST).exists() and (folder / "README.md").exists()
    assert not list(folder.glob("*answer*")), "the answer key must not ship in datasets/"


def test_small_world_is_valid(small_world_dir):
    assert validate_world(small_world_dir[0]) == []


def test_config_rejects_worlds_too_small_to_show_the_effects():
    with pytest.raises(ValueError, match="n_users"):
        generate_world(replace(DEFAULT, n_users=10), progress=False)
    with pytest.raises(ValueError, match="618"):
        generate_world(replace(DEFAULT, days=90), progress=False)


# --- integrity beyond the schema -----------------------------------------------------------

def test_tables_agree(world_and_key):
    w, key = world_and_key
    users, events, orders = w["users"], w["events"], w["orders"]
    end = pd.Timestamp(key["start"]) + pd.Timedelta(days=key["days"])
    for name, column in (("events", "event_time"), ("orders", "order_time"), ("feedback", "feedback_time"),
                         ("invites", "sent_time"), ("campaign_rewards", "reward_time"), ("users", "signup_time")):
        assert w[name][column].max() < end, f"{name}.{column} runs past the end of the period"
    signup = users.set_index("user_id")["signup_time"]
    assert (events["event_time"] >= events["user_id"].map(signup)).all()
    assert (orders["order_time"] >= orders["user_id"].map(signup)).all()
    # Every order has the client's purchase event, except inside the tracking outage.
    purchases = events.loc[events["event_type"] == "purchase", ["user_id", "event_time"]]
    matched = orders.merge(purchases, left_on=["user_id", "order_time"], right_on=["user_id", "event_time"],
                           how="left", indicator=True)
    unmatched = matched.loc[matched["_merge"] == "left_only", "order_time"]
    lo, hi = pd.Timestamp(key["tracking_outage"]["start"]), pd.Timestamp(key["tracking_outage"]["end"])
    assert unmatched.between(lo, hi, inclusive="left").all()
    # UGC items were posted by their author (a post event) unless the post fell into the outage.
    ugc = w["content"].loc[~w["content"]["is_official"]]
    posts = events.loc[events["event_type"] == "post", "content_id"]
    missing = ugc.loc[~ugc["content_id"].isin(posts), "created_time"]
    assert missing.between(lo, hi, inclusive="left").all()


def test_rewards_go_to_participants_except_the_planted_bad_claims(world_and_key):
    w, key = world_and_key
    joins = w["events"].loc[w["events"]["event_type"] == "campaign_join", ["user_id", "campaign_id"]].drop_duplicates()
    joins["campaign_id"] = joins["campaign_id"].astype("int64")
    r = w["campaign_rewards"].merge(joins, on=["user_id", "campaign_id"], how="left", indicator=True)
    outsiders = set(r.loc[r["_merge"] == "left_only", "reward_id"])
    assert outsiders == set(key["bad_reward_claims"]["ineligible_reward_ids"])
    assert len(outsiders) > 0


# --- planted truths ------------------------------------------------------------------------

def _active_days(w) -> pd.DataFrame:
    e = w["events"]
    act = pd.DataFrame({"user_id": e["user_id"], "day": e["event_time"].dt.normalize()}).drop_duplicates()
    u = w["users"].assign(d0=w["users"]["signup_time"].dt.normalize())
    act = act.merge(u[["user_id", "d0"]], on="user_id")
    act["k"] = (act["day"] - act["d0"]).dt.days
    return act


def _retention(w, act: pd.DataFrame, n: int, users: pd.DataFrame | None = None) -> pd.Series:
    """Classic day-n retention per user (NaN when day n is past the data)."""
    users = w["users"] if users is None else users
    last = w["events"]["event_time"].max().normalize()
    d0 = users["signup_time"].dt.normalize()
    kept = users["user_id"].isin(act.loc[act["k"] == n, "user_id"]).astype(float)
    return kept.where(d0 + pd.Timedelta(days=n) <= last).set_axis(users["user_id"])


def test_cheap_channel_retains_worst(world_and_key):
    w, key = world_and_key
    new = w["users"].groupby("channel").size()
    cac = (w["channel_spend"].groupby("channel")["spend"].sum() / new).loc[list(PAID_CHANNELS)]
    d14 = _retention(w, _active_days(w), 14).groupby(w["users"].set_index("user_id")["channel"]).mean()
    assert cac.idxmin() == key["poor_channel"]["channel"]
    assert d14.idxmin() == key["poor_channel"]["channel"]
    assert d14.min() < 0.5 * d14.drop(key["poor_channel"]["channel"]).mean()


def test_activation_behaviour_predicts_retention(world_and_key):
    w, key = world_and_key
    e, u = w["events"], w["users"]
    f = e.loc[e["event_type"] == "follow"].merge(u[["user_id", "signup_time"]], on="user_id")
    early = (f["event_time"].dt.normalize() - f["signup_time"].dt.normalize()).dt.days < key["aha_days"]
    aha = u["user_id"].isin(f.loc[early].groupby("user_id").size().loc[lambda s: s >= key["aha_follows"]].index)
    d30 = _retention(w, _active_days(w), 30)
    did, did_not = d30[aha.to_numpy()].mean(), d30[~aha.to_numpy()].mean()
    assert did > 2.5 * did_not, (did, did_not)


def test_coupon_campaign_lifts_purchases_against_its_holdout(world_and_key):
    w, key = world_and_key
    camp = w["campaigns"].set_index("campaign_id").loc[key["coupon_campaign"]["campaign_id"]]
    length = camp["end_time"] - camp["start_time"]
    targets = w["campaign_targets"]
    o = w["orders"]

    def bought(lo, hi) -> pd.Series:
        buyers = o.loc[(o["order_time"] >= lo) & (o["order_time"] < hi), "user_id"]
        return targets["user_id"].isin(buyers).groupby(targets["group"]).mean()

    post, pre = bought(camp["start_time"], camp["end_time"]), bought(camp["start_time"] - length, camp["start_time"])
    did = (post["treatment"] - pre["treatment"]) - (post["holdout"] - pre["holdout"])
    n = targets.groupby("group").size()
    se = np.sqrt(post["treatment"] * (1 - post["treatment"]) / n["treatment"]
                 + post["holdout"] * (1 - post["holdout"]) / n["holdout"])
    assert did > 2 * se, (did, se)
    assert set(targets["group"]) == {"treatment", "holdout"}


def test_tracking_outage_is_a_hole_in_events_but_not_in_orders(world_and_key):
    w, key = world_and_key
    hours = w["events"]["event_time"].dt.floor("h").value_counts()
    # From the third week on, every daytime hour has traffic, except in the outage.
    grid = pd.date_range(hours.index.min() + pd.Timedelta(days=14), hours.index.max(), freq="h")
    empty = grid[~grid.isin(hours.index)]
    lo, hi = pd.Timestamp(key["tracking_outage"]["start"]), pd.Timestamp(key["tracking_outage"]["end"])
    daytime_empty = empty[(empty.hour >= 8) & (empty.hour < 23)]
    assert set(daytime_empty) == set(pd.date_range(lo, hi, freq="h", inclusive="left"))
    assert w["orders"]["order_time"].between(lo, hi, inclusive="left").any()


def test_bot_spike_stands_out_and_never_returns(world_and_key):
    w, key = world_and_key
    u = w["users"]
    per_hour = u["signup_time"].dt.floor("h").value_counts()
    z = (per_hour - per_hour.mean()) / per_hour.std()
    spike = z.idxmax()
    assert spike == pd.Timestamp(key["bot_spike"]["day"]) + pd.Timedelta(hours=key["bot_spike"]["hour"])
    assert z.max() > 10
    bots = u.loc[u["signup_time"].dt.floor("h") == spike, "user_id"]
    e = w["events"]
    after = e.loc[e["user_id"].isin(bots) & (e["event_time"] >= spike + pd.Timedelta(days=1)), "user_id"].nunique()
    assert after <= 0.1 * len(bots)
    likes_per_user = e.loc[e["user_id"].isin(bots) & (e["event_type"] == "like")].groupby("user_id").size().median()
    assert likes_per_user > 30


def _ztest(df: pd.DataFrame) -> float:
    g = df.groupby("variant")["converted"].agg(["sum", "count"])
    p = g["sum"].sum() / g["count"].sum()
    se = np.sqrt(p * (1 - p) * (1 / g["count"]).sum())
    return float(2 * stats.norm.sf(abs(g["sum"]["treatment"] / g["count"]["treatment"]
                                       - g["sum"]["control"] / g["count"]["control"]) / se))


def test_three_ab_tests_effect_none_and_sample_ratio_mismatch(world_and_key):
    w, key = world_and_key
    ex = w["experiments"]
    truth = key["experiments"]
    effect = ex[ex["experiment"] == truth["with_effect"]]
    rates = effect.groupby("variant")["converted"].mean()
    assert rates["treatment"] > rates["control"] and _ztest(effect) < 0.01
    assert _ztest(ex[ex["experiment"] == truth["no_effect"]]) > 0.01
    for name, part in ex.groupby("experiment"):
        counts = part["variant"].value_counts()
        p_srm = stats.chisquare(counts.to_numpy()).pvalue
        assert (p_srm < 0.001) == (name == truth["sample_ratio_mismatch"]), (name, counts.to_dict())


def test_buggy_release_hurts_one_platform_for_a_few_weeks(world_and_key):
    w, key = world_and_key
    bug = key["buggy_release"]
    u = w["users"]
    d7 = _retention(w, _active_days(w), 7).to_numpy()
    window = u["signup_time"].between(pd.Timestamp(bug["start"]), pd.Timestamp(bug["end"]), inclusive="left")
    before = u["signup_time"] < pd.Timestamp(bug["start"]) - pd.Timedelta(days=14)
    by = lambda mask: pd.Series(d7[mask.to_numpy()]).groupby(u.loc[mask, "platform"].to_numpy()).mean()
    during, earlier = by(window), by(before)
    other = "ios" if bug["platform"] == "android" else "android"
    assert during[bug["platform"]] < 0.7 * during[other]
    assert earlier[bug["platform"]] > 0.85 * earlier[other]
    assert (u.loc[window, "app_version"] == bug["version"]).all()


def test_duplicate_reward_claims_are_found_by_a_time_gap_rule(world_and_key):
    w, key = world_and_key
    r = w["campaign_rewards"].sort_values(["campaign_id", "user_id", "reward_time"])
    gap = r.groupby(["campaign_id", "user_id"])["reward_time"].diff()
    flagged = set(r.loc[gap < pd.Timedelta(minutes=31), "reward_id"])
    planted = set(key["bad_reward_claims"]["duplicate_reward_ids"])
    assert planted and planted <= flagged
    assert len(flagged - planted) <= 0.2 * len(planted) + 2


def test_viral_hits_take_the_biggest_share_of_their_first_week(world_and_key):
    w, key = world_and_key
    e, c = w["events"], w["content"]
    views = e.loc[e["event_type"] == "view_content", ["content_id", "event_time"]].merge(c, on="content_id")
    first_week = views[views["event_time"] < views["created_time"] + pd.Timedelta(days=7)]
    per_day = views.groupby(views["event_time"].dt.normalize()).size()
    week_total = per_day.rolling("7D").sum().shift(-6, freq="D")       # views in [day, day + 7)
    start = c.set_index("content_id")["created_time"].dt.normalize()
    share = first_week.groupby("content_id").size() / week_total.reindex(start).set_axis(start.index)
    top = share.nlargest(len(key["viral_content_ids"]))
    assert set(top.index) == set(key["viral_content_ids"])
    hits = c[c["content_id"].isin(key["viral_content_ids"])]
    assert (hits["content_type"] == "video").all() and (~hits["is_official"]).all()


def test_spend_is_heavy_tailed_enough_for_rfm(world_and_key):
    w, _ = world_and_key
    m = w["orders"].groupby("user_id")["amount"].sum().sort_values(ascending=False)
    top_fifth = m.iloc[: max(1, len(m) // 5)].sum() / m.sum()
    assert top_fifth > 0.5
    freq = w["orders"].groupby("user_id").size()
    assert (freq == 1).mean() > 0.3 and freq.max() >= 10

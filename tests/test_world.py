"""The world generator: determinism, integrity, and every planted truth found by a short analysis.

Planted truths are checked on the committed default world and on a world with
another seed at a third of the size, with the same analysis and no numbers
copied from either: what the answer key says must be what the data shows.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from opsbook.data import load_world
from opsbook.world import locales
from opsbook.world.calendar import WorldCalendar
from opsbook.world.config import ACCEPTED, WorldConfig
from opsbook.world.generate import generate_world, write_world
from opsbook.world.identity import MOBILE_PREFIXES
from opsbook.world.io import MANIFEST
from opsbook.world.schema import PAID_CHANNELS, TABLES
from opsbook.world.validate import validate_world

REPO = Path(__file__).resolve().parents[1]
DEFAULT = WorldConfig()
SMALL = replace(DEFAULT, seed=7, n_users=DEFAULT.n_users // 3)
SMALLEST = replace(DEFAULT, seed=11, n_users=ACCEPTED["n_users"][0], days=ACCEPTED["days"][0])
"""The smallest world the CLI accepts: every planted truth must show there too."""


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _generated(tmp_path_factory, config: WorldConfig, name: str) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp(name) / "world"
    key = out.parent / "key.json"
    write_world(generate_world(config, progress=False), out, key)
    return out, json.loads(key.read_text())


@pytest.fixture(scope="module")
def small_world_dir(tmp_path_factory) -> tuple[Path, dict]:
    return _generated(tmp_path_factory, SMALL, "small")


@pytest.fixture(scope="module")
def smallest_world_dir(tmp_path_factory) -> tuple[Path, dict]:
    return _generated(tmp_path_factory, SMALLEST, "smallest")


@pytest.fixture(scope="module", params=["default", "small", "smallest"])
def world_and_key(request) -> tuple[dict[str, pd.DataFrame], dict]:
    if request.param == "default":
        key = json.loads((REPO / "autograder" / "answer_key.json").read_text())
        return load_world(REPO / "datasets"), key
    folder, key = request.getfixturevalue(f"{request.param}_world_dir")
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
    assert sum(p.stat().st_size for p in folder.iterdir()) < 12.5 * 2**20
    assert (folder / MANIFEST).exists() and (folder / "README.md").exists()
    assert not list(folder.glob("*answer*")), "the answer key must not ship in datasets/"


def test_small_worlds_are_valid(small_world_dir, smallest_world_dir):
    assert validate_world(small_world_dir[0]) == []
    assert validate_world(smallest_world_dir[0]) == []


def test_the_longest_accepted_world_works(tmp_path):
    """A world of a whole year: still valid, the bug still open at the end, festivals of the autumn inside."""
    cfg = replace(DEFAULT, seed=3, n_users=ACCEPTED["n_users"][0], days=ACCEPTED["days"][1])
    write_world(generate_world(cfg, progress=False), tmp_path / "w", tmp_path / "k.json")
    assert validate_world(tmp_path / "w") == []
    key = json.loads((tmp_path / "k.json").read_text())
    w = load_world(tmp_path / "w", ["users", "campaigns"])
    assert {"qixi", "mid_autumn", "national_day", "double_11", "double_12"} <= set(key["calendar"])
    assert key["buggy_release"]["end"] == "2026-01-02" and not key["buggy_release"]["fixed_within_data"]
    assert w["users"]["app_version"].iloc[-1] == key["buggy_release"]["version"]
    assert w["campaigns"]["end_time"].max() <= pd.Timestamp("2026-01-02")


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
                         ("invites", "sent_time"), ("campaign_rewards", "reward_time"), ("users", "signup_time"),
                         ("group_members", "join_time"), ("group_members", "leave_time"), ("threads", "created_time"),
                         ("replies", "reply_time"), ("votes", "vote_time"), ("moderation_actions", "action_time"),
                         ("leads", "created_time"), ("leads", "converted_time"), ("campaigns", "end_time")):
        assert w[name][column].max() <= end if name == "campaigns" else w[name][column].max() < end, \
            f"{name}.{column} runs past the end of the period"
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
    targets = targets[targets["campaign_id"] == key["coupon_campaign"]["campaign_id"]]
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
    # From the sixth week on (when even the smallest world has a few hundred users a day), every daytime hour
    # has traffic, except in the outage.
    grid = pd.date_range(hours.index.min() + pd.Timedelta(days=35), hours.index.max(), freq="h")
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

    def by(mask: pd.Series) -> pd.Series:
        return pd.Series(d7[mask.to_numpy()]).groupby(u.loc[mask, "platform"].to_numpy()).mean()

    during, earlier = by(window), by(before)
    other = "ios" if bug["platform"] == "android" else "android"
    assert during[bug["platform"]] < 0.7 * during[other]
    assert earlier[bug["platform"]] > 0.85 * earlier[other]
    assert (u.loc[window, "app_version"] == bug["version"]).all()
    # Three weeks before the end, still broken when the data ends: the capstone's problem on every world.
    end = pd.Timestamp(key["start"]) + pd.Timedelta(days=key["days"])
    assert pd.Timestamp(bug["end"]) == end and not bug["fixed_within_data"]
    assert (end - pd.Timestamp(bug["start"])).days == 21
    assert bug["fixed_in"] not in set(u["app_version"])
    bugs = w["feedback"].merge(u[["user_id", "platform"]], on="user_id")
    bugs = bugs[(bugs["category"] == "bug") & (bugs["feedback_time"] >= pd.Timestamp(bug["start"]))]
    assert bugs["comment"].str.contains(bug["version"], regex=False).any()


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
    e = e[~e["user_id"].isin(key["bot_spike"]["user_ids"])]              # the bots view at random: leave them out
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


# --- the calendar ----------------------------------------------------------------------------

def test_named_days_come_from_the_real_calendar():
    cal = WorldCalendar(date(2025, 1, 1), 182)
    assert cal.day("618") == 168 and cal.day("spring_festival") == 28 and cal.day("labour_day") == 120
    assert not cal.has("double_11")
    later = WorldCalendar(date(2025, 3, 1), 360)
    assert later.day("618") == 109 and later.day("double_11") == 255 and later.day("spring_festival") == 353
    assert str(later.date(later.day("mid_autumn"))) == "2025-10-06"
    assert WorldCalendar(date(2026, 1, 1), 60).day("spring_festival") == 47       # 17 February 2026


def test_festival_campaigns_follow_the_calendar(world_and_key):
    w, key = world_and_key
    c = w["campaigns"].set_index("campaign_type")
    assert c.loc["sale_618", "end_time"] == pd.Timestamp(key["calendar"]["618"]) + pd.Timedelta(days=1)
    assert c.loc["lottery", "start_time"] <= pd.Timestamp(key["calendar"]["labour_day"]) < c.loc["lottery", "end_time"]
    festival_runs = w["campaigns"].set_index("campaign_id").loc[
        key["recurring_campaigns"]["festival_timing"]["festival_campaign_ids"]]
    assert len(festival_runs) >= 3
    assert set(festival_runs["start_time"].dt.strftime("%Y-%m-%d")) <= set(key["calendar"].values())


# --- text of both locales --------------------------------------------------------------------

@pytest.fixture(scope="module", params=["en_US", "zh_CN"])
def locale_world(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "w"
    write_world(generate_world(replace(DEFAULT, seed=5, n_users=2_000, locale=request.param), progress=False), out,
                out.parent / "k.json")
    return request.param, load_world(out, ["users", "feedback", "content", "campaigns", "threads",
                                           "community_groups", "leads"])


def test_feedback_keeps_the_keywords_of_each_category(locale_world):
    """A keyword rule book sorts the comments about as well as before the comments became realistic."""
    locale, w = locale_world
    rules = locales.pack(locale)["feedback_keywords"]
    fb = w["feedback"]
    text = fb["comment"].str.lower()
    predicted = pd.Series("other", index=fb.index)
    for category, words in reversed(list(rules.items())):
        hit = pd.concat([text.str.contains(k, regex=False) for k in words], axis=1).any(axis=1)
        predicted[hit] = category
    assert (predicted == fb["category"]).mean() > 0.82
    assert fb["comment"].nunique() > 0.8 * len(fb)                       # templates with slots, not a few phrases


def test_comments_of_a_category_carry_its_words_and_no_other_categorys(monkeypatch):
    """The phrase banks themselves: every clean comment has its category's keyword and no other category's."""
    from opsbook.world import identity
    monkeypatch.setattr(identity, "NOISE", 0.0)
    rng = np.random.default_rng(1)
    for locale in locales.available():
        pools = identity.IdentityPools.build(locale, 1)
        keywords = locales.pack(locale)["feedback_keywords"]
        cats = np.repeat(np.array(list(keywords), dtype=object), 300)
        comments = pools.comments(rng, cats, rng.integers(0, 11, cats.size), np.full(cats.size, "3.2.0", dtype=object),
                                  rng.random(cats.size) < 0.5)
        for cat, comment in zip(cats, comments):
            low = comment.lower()
            found = {c for c, words in keywords.items() if any(k in low for k in words)}
            assert found == {cat}, (locale, cat, comment, found)


def test_text_reads_like_the_locale(locale_world):
    locale, w = locale_world
    cjk = r"[\u4e00-\u9fff]"
    texts = pd.concat([w["feedback"]["comment"], w["content"]["title"], w["threads"]["title"], w["campaigns"]["name"],
                       w["campaigns"]["rules"], w["campaigns"]["target_group"], w["community_groups"]["name"]])
    if locale == "zh_CN":
        assert texts.str.contains(cjk).mean() > 0.97
        assert not w["feedback"]["comment"].str.contains(r"[,.!?:;]$|[\u4e00-\u9fff][,.!?:;]").any()
        assert w["feedback"]["comment"].str.contains("[，。！？]").all()
    else:
        assert not texts.str.contains(cjk).any()
        assert not texts.str.contains("[，。！？：“”]").any()
    lorem = ["lorem", "ipsum", "Republican", "政府", "学校"]
    assert not texts.str.contains("|".join(lorem)).any()


def test_names_match_gender(locale_world):
    locale, w = locale_world
    u = w["users"]
    if locale == "zh_CN":
        spec = locales.pack(locale)["name"]
        female = {g for g, _ in spec["female"]}
        male = {g for g, _ in spec["male"]}
        surnames = sorted((s for s, _, _ in spec["surnames"]), key=len, reverse=True)
        given = u["name"].map(lambda n: next(n[len(s):] for s in surnames if n.startswith(s)))
        assert given[u["gender"] == "female"].isin(female).all() and given[u["gender"] == "male"].isin(male).all()
    else:
        assert u["name"].str.fullmatch(r"[A-Z][A-Za-z'-]+ [A-Z][A-Za-z'-]+").mean() > 0.95


# --- privacy ---------------------------------------------------------------------------------

def test_users_carry_direct_identifiers_to_mask(world_and_key):
    w, key = world_and_key
    u = w["users"]
    assert set(key["privacy"]["direct_identifiers"]["users"]) <= set(u.columns)
    assert u["phone"].str.fullmatch(r"1\d{10}").all() and u["phone"].is_unique
    assert u["phone"].str[:3].astype(int).isin(MOBILE_PREFIXES).all()
    assert u["email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.]+\.[a-z]+").all()
    ios = u["platform"] == "ios"
    uuid = r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}"
    assert u.loc[ios, "device_id"].str.fullmatch(uuid).all()
    assert u.loc[~ios, "device_id"].str.fullmatch(r"[0-9a-f]{16}").all()
    # The masked contact of a signed-up invitee links back to the user: masking alone is not anonymity.
    inv = w["invites"].dropna(subset=["signed_up_user_id"]).merge(u, left_on="signed_up_user_id", right_on="user_id")
    assert (inv["invitee_contact"] == inv["phone"].str[:3] + "****" + inv["phone"].str[-4:]).all()


# --- community groups (社群) -------------------------------------------------------------------

def _messages(w) -> pd.DataFrame:
    """Threads and replies with their group, author and time."""
    th, rp = w["threads"], w["replies"]
    replies = rp.merge(th[["thread_id", "group_id"]], on="thread_id")
    return pd.concat([th[["group_id", "author_id", "created_time"]].set_axis(["group_id", "user_id", "time"], axis=1),
                      replies[["group_id", "user_id", "reply_time"]].set_axis(["group_id", "user_id", "time"], axis=1)])


def test_participation_pyramid(world_and_key):
    """Most members lurk, fewer reply, a small core starts the threads (roughly 90-9-1, not exactly)."""
    w, key = world_and_key
    members = set(w["group_members"]["user_id"])
    creators = members & set(w["threads"]["author_id"])
    repliers = members & set(w["replies"]["user_id"]) - creators
    lurkers = len(members) - len(creators) - len(repliers)
    shares = np.array([lurkers, len(repliers), len(creators)]) / len(members)
    assert shares[0] > 0.65 and shares[0] > shares[1] > shares[2] > 0.02
    pyramid = key["community"]["participation_pyramid"]
    assert np.allclose(shares, [pyramid["lurkers"], pyramid["repliers_only"], pyramid["creators"]], atol=1e-3)
    # The core: the top tenth of writers write most of the messages.
    per_user = _messages(w).groupby("user_id").size().sort_values(ascending=False)
    assert per_user.iloc[: max(1, len(per_user) // 10)].sum() > 0.4 * per_user.sum()


def test_topic_heat_halves_every_few_hours(world_and_key):
    w, key = world_and_key
    r = w["replies"].merge(w["threads"][["thread_id", "created_time"]], on="thread_id")
    hours = ((r["reply_time"] - r["created_time"]).dt.total_seconds() // 3600).astype(int)
    counts = hours.value_counts().reindex(range(2, 37), fill_value=0)
    slope = np.polyfit(counts.index, np.log(counts.to_numpy() + 0.5), 1)[0]
    half_life = -np.log(2) / slope
    planted = key["community"]["reply_half_life_hours"]
    assert 0.7 * planted < half_life < 1.45 * planted, half_life


def test_threads_answered_within_an_hour_keep_their_author(world_and_key):
    w, key = world_and_key
    th, rp = w["threads"], w["replies"]
    first_reply = rp.groupby("thread_id")["reply_time"].min()
    wait = (th["thread_id"].map(first_reply) - th["created_time"]).dt.total_seconds() / 60
    assert 0.55 < wait.notna().mean() < 0.95                                   # share of threads answered
    assert 20 < wait.median() < 120                                            # minutes to the first reply
    act = _active_days(w)
    last = act["day"].max()
    first = th.assign(fast=wait <= 60).sort_values("created_time").drop_duplicates("author_id")
    first = first[first["created_time"].dt.normalize() + pd.Timedelta(days=60) <= last]
    later = act.merge(first[["author_id", "created_time"]], left_on="user_id", right_on="author_id")
    k = (later["day"] - later["created_time"].dt.normalize()).dt.days
    stayed = set(later.loc[(k >= 30) & (k < 60), "user_id"])
    kept = first["author_id"].isin(stayed).groupby(first["fast"]).mean()
    assert kept[True] > kept[False] + 0.1, kept.to_dict()


def test_a_core_member_leaving_drops_the_groups_activity(world_and_key):
    w, key = world_and_key
    core = key["community"]["core_departure"]
    day, group = pd.Timestamp(core["day"]), core["group_id"]
    left = w["group_members"].set_index(["group_id", "user_id"]).loc[(group, core["user_id"]), "leave_time"]
    assert left.normalize() == day
    m = _messages(w)
    before = m[(m["time"] >= day - pd.Timedelta(days=28)) & (m["time"] < day)]
    after = m[(m["time"] >= day) & (m["time"] < day + pd.Timedelta(days=28))]

    def ratio(part: pd.DataFrame) -> float:
        return (part["group_id"] == group).sum() / (part["group_id"] != group).sum()

    assert ratio(after) < 0.65 * ratio(before)
    # ... and the member who left was one of the few who started most of the group's threads.
    th = w["threads"]
    started = th[(th["group_id"] == group) & (th["created_time"] < day)]["author_id"].value_counts()
    assert core["user_id"] in started.index[:3]


def test_members_retain_better_but_were_more_engaged_before_joining(world_and_key):
    """The raw gap overstates the effect of joining: members were already more active before they joined.

    Landmark on day 28 after signup (everyone compared was still active in week 4, so no one is a
    "member" merely for having survived long enough to join): members joined on days 8-21, the others
    had not joined by day 28. Pre-join engagement: active days in days 1-7.
    """
    w, key = world_and_key
    u = w["users"].set_index("user_id")
    act = _active_days(w)
    last = act["day"].max()
    joined = w["group_members"].groupby("user_id")["join_time"].min()
    u["join_k"] = (joined.dt.normalize() - u["signup_time"].dt.normalize()).dt.days
    week1 = act[(act["k"] >= 1) & (act["k"] <= 7)].groupby("user_id").size()
    u["week1"] = week1.reindex(u.index, fill_value=0)
    alive = u.index.isin(act.loc[(act["k"] >= 22) & (act["k"] <= 28), "user_id"])
    u = u[alive & (u["signup_time"].dt.normalize() + pd.Timedelta(days=72) <= last)]
    u["member"] = u["join_k"].between(8, 21)
    u = u[u["member"] | u["join_k"].isna() | (u["join_k"] > 28)]
    u["kept"] = u.index.isin(act.loc[(act["k"] >= 58) & (act["k"] < 72), "user_id"])
    pre = u.groupby("member")["week1"].mean()
    assert pre[True] > 1.3 * pre[False], pre.to_dict()                     # selection: visible before joining
    raw = u.groupby("member")["kept"].mean()
    strata = u.groupby(["week1", "member"])["kept"].mean().unstack()
    weight = u[u["member"]].groupby("week1").size()
    like_for_like = ((strata[True] - strata[False]) * weight).sum() / weight.sum()
    assert raw[True] > raw[False] + 0.1, raw.to_dict()
    assert 0 < like_for_like < raw[True] - raw[False], (like_for_like, raw.to_dict())
    # Members also send more invites, per active day, than the same days of non-members.
    inv = w["invites"].assign(day=w["invites"]["sent_time"].dt.normalize())
    m = w["group_members"].groupby("user_id").agg(start=("join_time", "min"), end=("leave_time", "max"))
    days = act.merge(m, left_on="user_id", right_index=True, how="left")
    in_group = (days["day"] > days["start"]) & (days["end"].isna() | (days["day"] < days["end"].dt.normalize()))
    sent = days.merge(inv.groupby(["inviter_id", "day"]).size().rename("n").reset_index(),
                      left_on=["user_id", "day"], right_on=["inviter_id", "day"], how="left")["n"].fillna(0)
    per_day = sent.groupby(in_group.to_numpy()).mean()
    assert per_day[True] > 1.5 * per_day[False], per_day.to_dict()


def test_moderation_spikes_with_the_spam_wave(world_and_key):
    w, key = world_and_key
    mod = w["moderation_actions"]
    per_day = mod.groupby(mod["action_time"].dt.normalize()).size()
    per_day = per_day.reindex(pd.date_range(per_day.index.min(), per_day.index.max()), fill_value=0)
    wave = key["community"]["spam_wave"]
    assert per_day.idxmax() in pd.date_range(wave["start"], wave["end"], inclusive="left")
    assert (per_day.max() - per_day.median()) / per_day.std() > 4
    during = mod[mod["action_time"].dt.normalize() == per_day.idxmax()]
    assert (during["rule"] == "spam_ads").mean() > 0.8
    removed = during.loc[(during["target_type"] == "reply") & (during["rule"] == "spam_ads"), "target_id"]
    writers = set(w["replies"].set_index("reply_id").loc[removed, "user_id"])
    assert writers <= set(wave["user_ids"])


def test_community_activity_comes_from_active_members(world_and_key):
    """Only existing users, after signup, on days they used the app (outside the tracking outage)."""
    w, key = world_and_key
    act = _active_days(w)[["user_id", "day"]].assign(active=True)
    for name, user, time in (("threads", "author_id", "created_time"), ("replies", "user_id", "reply_time"),
                             ("votes", "user_id", "vote_time")):
        rows = w[name][[user, time]].set_axis(["user_id", "time"], axis=1)
        rows["day"] = rows["time"].dt.normalize()
        seen = rows.merge(act, on=["user_id", "day"], how="left")["active"].fillna(False).astype(bool)
        assert seen.mean() > 0.99, (name, seen.mean())
    assert not set(w["group_members"]["user_id"]) & set(key["bot_spike"]["user_ids"])


# --- campaign timing, frequency and fatigue --------------------------------------------------------

def _recurring_targets(w) -> pd.DataFrame:
    """Target rows of the recurring runs, with the number of offers each user was sent before, and a claim flag."""
    c, t, e = w["campaigns"], w["campaign_targets"], w["events"]
    tt = t.merge(c[["campaign_id", "campaign_type", "start_time"]], on="campaign_id")
    tt = tt.sort_values(["start_time", "campaign_id"], kind="stable")
    sent = (tt["group"] == "treatment").astype(int)
    tt["earlier"] = sent.groupby(tt["user_id"]).cumsum() - sent
    joins = e.loc[e["event_type"] == "campaign_join", ["user_id", "campaign_id"]].drop_duplicates()
    joins["campaign_id"] = joins["campaign_id"].astype("int64")
    tt = tt.merge(joins.assign(claimed=True), on=["user_id", "campaign_id"], how="left")
    tt["claimed"] = tt["claimed"].fillna(False).astype(bool)
    return tt[tt["campaign_type"].isin(["newcomer_coupon", "flash_coupon"]) & (tt["group"] == "treatment")]


def test_repeated_offers_tire_their_users(world_and_key):
    """Fatigue (疲劳): the more offers a user was sent before, the less often they claim the next one."""
    w, key = world_and_key
    tt = _recurring_targets(w)
    rate = tt.groupby(pd.cut(tt["earlier"], [-1, 0, 2, 5, 1000]), observed=True)["claimed"].mean()
    assert rate.is_monotonic_decreasing and rate.iloc[0] > 2 * rate.iloc[-1], rate.to_dict()
    for cid, group in w["campaign_targets"].groupby("campaign_id"):   # every targeted run can be compared
        assert set(group["group"]) == {"treatment", "holdout"}, cid


def test_runs_timed_to_festivals_are_claimed_more(world_and_key):
    w, key = world_and_key
    timing = key["recurring_campaigns"]["festival_timing"]
    tt = _recurring_targets(w)
    flash = tt[tt["campaign_type"] == "flash_coupon"]
    runs = flash.groupby(["start_time", "campaign_id"])["claimed"].mean().reset_index(level=1)
    runs["festival"] = runs["campaign_id"].isin(timing["festival_campaign_ids"])
    neighbours = runs["claimed"].rolling(3, center=True, min_periods=2).sum() - runs["claimed"]
    neighbours /= runs["claimed"].rolling(3, center=True, min_periods=2).count() - 1
    ordinary = runs[~runs["festival"]]
    festive = runs[runs["festival"]]
    ratio = (festive["claimed"] / neighbours[runs["festival"]]).replace(np.inf, np.nan).dropna()
    assert np.exp(np.log(ratio[ratio > 0]).mean()) > 1.15, ratio.to_dict()
    assert len(festive) >= 3 and len(ordinary) >= 5


def _roi_by_third(w, kind: str, margin: float = 0.3) -> list[float]:
    """Incremental ROI of each third of a series' runs: (incremental buyers x margin x revenue per buyer - cost)
    / cost, incremental buyers from the treatment - hold-out difference in the share who bought during the run."""
    c, t, o, r = w["campaigns"], w["campaign_targets"], w["orders"], w["campaign_rewards"]
    runs = c[c["campaign_type"] == kind].sort_values("start_time").reset_index(drop=True)
    out = []
    for _, part in runs.groupby(runs.index * 3 // len(runs)):
        incremental = revenue = buyers = cost = 0.0
        for run in part.itertuples():
            listed = t[t["campaign_id"] == run.campaign_id]
            during = o[(o["order_time"] >= run.start_time) & (o["order_time"] < run.end_time)]
            bought = listed["user_id"].isin(during["user_id"]).groupby(listed["group"]).mean()
            treated = listed.loc[listed["group"] == "treatment", "user_id"]
            incremental += (bought["treatment"] - bought["holdout"]) * len(treated)
            spent = during[during["user_id"].isin(treated)]
            revenue, buyers = revenue + spent["amount"].sum(), buyers + spent["user_id"].nunique()
            cost += r.loc[r["campaign_id"] == run.campaign_id, "amount"].sum()
        out.append((incremental * margin * revenue / buyers - cost) / cost)
    return out


def test_one_recurring_campaign_pays_every_time_the_other_stops_paying(world_and_key):
    """常规化: the newcomer coupon's ROI is positive in every third of its runs; the flash coupon's decays."""
    w, key = world_and_key
    routine = _roi_by_third(w, key["recurring_campaigns"]["routine_candidate"]["campaign_type"])
    decaying = _roi_by_third(w, key["recurring_campaigns"]["decaying"]["campaign_type"])
    assert min(routine) > 0.3, routine
    assert decaying[-1] < 0 and decaying[0] > decaying[-1] + 0.5, decaying


# --- leads (线索) ----------------------------------------------------------------------------------

def test_leads_followed_up_within_a_day_convert_and_tier_a_converts_best(world_and_key):
    w, key = world_and_key
    leads = w["leads"]
    kept = leads[leads["clean_status"] == "kept"]
    followed = kept.dropna(subset=["first_followup_time"])
    fast = (followed["first_followup_time"] - followed["created_time"]) <= pd.Timedelta(hours=24)
    converted = followed["converted_time"].notna()
    by_speed = converted.groupby(fast).mean()
    assert by_speed[True] > 2 * by_speed[False], by_speed.to_dict()
    by_tier = kept["converted_time"].notna().groupby(kept["tier"]).mean()
    assert by_tier.idxmax() == key["leads"]["best_tier"] and by_tier.is_monotonic_decreasing, by_tier.to_dict()
    # Cleaning: a duplicate repeats an earlier lead's phone; an invalid contact is not a mobile number.
    valid = leads["contact_phone"].str.fullmatch(r"1[3-9]\d{9}")
    assert not valid[leads["clean_status"] == "invalid_contact"].any() and valid[leads["clean_status"] == "kept"].all()
    repeat = leads["contact_phone"].duplicated()
    duplicates = leads.loc[leads["clean_status"] == "duplicate", "contact_phone"]
    assert duplicates.isin(leads.loc[~repeat, "contact_phone"]).all()
    assert repeat[leads["clean_status"] == "duplicate"].all()


# --- repurchase, ROAS and content that sells --------------------------------------------------------

def test_orders_support_repurchase_roas_and_content_attribution(world_and_key):
    w, key = world_and_key
    o, u, e, c = w["orders"], w["users"], w["events"], w["content"]
    per_buyer = o.groupby("user_id").size()
    assert 0.2 < (per_buyer >= 2).mean() < 0.8                                 # repeat buyers (复购)
    revenue = o.merge(u[["user_id", "channel"]], on="user_id").groupby("channel")["amount"].sum()
    spend = w["channel_spend"].groupby("channel")["spend"].sum()
    roas = (revenue / spend).loc[["search_ads", "social_ads", "content_marketing", "offline_promo"]]
    assert roas.notna().all() and (roas > 0).all()
    # Last touch: the topic of the last item the buyer viewed that day before the order.
    views = e.loc[(e["event_type"] == "view_content"), ["user_id", "event_time", "content_id"]]
    views = views.merge(c[["content_id", "topic"]], on="content_id").sort_values("event_time")
    touch = pd.merge_asof(o.sort_values("order_time"), views, left_on="order_time", right_on="event_time",
                          by="user_id", allow_exact_matches=False)
    touch = touch[touch["event_time"].dt.normalize() == touch["order_time"].dt.normalize()]
    assert len(touch) > 0.5 * len(o)
    sells = key["content_to_purchase"]["topic_to_category"]
    led = touch[touch["topic"].isin(list(sells))]
    match = (led["topic"].map(sells) == led["category"]).mean()
    chance = (led["topic"].map(sells).value_counts(normalize=True)
              * o["category"].value_counts(normalize=True)).sum()
    assert match > chance + 0.15, (match, chance)

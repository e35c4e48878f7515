"""Generate a world: run the model once and record it as the course's tables.

``generate_world(WorldConfig(...))`` returns a :class:`World` (typed frames
plus the instructor's answer key); ``write_world`` stores it as gzip CSV with
a checksum manifest and a data dictionary.

The steps, each a function with explicit inputs and a typed result:
the history (``run_history``: model + sessions), what each system logged
(``opsbook.world.logs``: events, invites, orders, content, rewards, feedback,
identities), the community and the leads, then one builder per table
(``opsbook.world.tables``) and the answer key (``opsbook.world.key``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from . import io, logs, tables
from .campaigns import campaigns_for
from .community import build_community
from .config import ACCEPTED, WorldConfig
from .identity import IdentityPools
from .key import GENERATOR_VERSION, Planted, answer_key
from .leads import build_leads
from .model import DAY, Activity, DayFactors, LoopState, Population, day_factors, draw_population, simulate
from .observe import Events, draw_sessions, filler_events
from .schema import TABLES

STREAMS = ("population", "simulate", "sessions", "events", "content", "orders", "campaigns", "invites",
           "feedback", "identity", "bots", "spend", "experiments", "community", "leads", "privacy")
MIN_USERS = 500
"""The smallest world the model can run; ``config.ACCEPTED`` is what the CLI accepts (every truth detectable)."""
STEPS = ("sessions", "events", "invites", "orders", "content", "rewards", "feedback", "people", "community",
         "leads", "tables", "answer key")


@dataclass
class World:
    config: WorldConfig
    tables: dict[str, pd.DataFrame]
    answer_key: dict


def generate_world(config: WorldConfig = WorldConfig(), progress: bool = True) -> World:
    """Simulate the product over ``config.days`` days and return its tables."""
    check_config(config)
    rng = random_streams(config)
    with tqdm(total=config.days + len(STEPS), desc="world", unit="step", disable=not progress, leave=False) as bar:
        return _generate(config, rng, bar)


def check_config(config: WorldConfig) -> None:
    """Raise ``ValueError`` for a world the model cannot run (the CLI is stricter: ``config.ACCEPTED``)."""
    if config.n_users < MIN_USERS:
        raise ValueError(f"n_users must be at least {MIN_USERS} (got {config.n_users}): smaller worlds cannot show "
                         "the planted effects")
    lo, hi = ACCEPTED["days"]
    if not lo <= config.days <= hi:
        raise ValueError(f"days must be from {lo} to {hi} (got {config.days}): the period must include the 618 "
                         "festival and a week after it, within one year")
    from .locales import available
    if config.locale not in available():
        raise ValueError(f"locale must be one of {', '.join(available())} (got {config.locale!r})")


def random_streams(config: WorldConfig) -> dict[str, np.random.Generator]:
    """One independent generator per part of the model, all from the world's seed."""
    seeds = np.random.SeedSequence(config.seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(s) for name, s in zip(STREAMS, seeds)}


def run_history(config: WorldConfig, rng: dict[str, np.random.Generator], progress: Any = None
                ) -> tuple[DayFactors, Population, Activity, LoopState]:
    """The behavioural part of a world: who signed up and what they did each day."""
    factors = day_factors(config)
    pop = draw_population(config, rng["population"], factors)
    act, state = simulate(config, pop, factors, rng["simulate"], campaigns_for(config), range(config.days),
                          progress=progress)
    return factors, pop, act, state


def _generate(cfg: WorldConfig, rng: dict[str, np.random.Generator], bar: Any) -> World:
    factors, pop, act, _ = run_history(cfg, rng, progress=bar)
    h = logs.History(cfg, factors, pop, act, draw_sessions(pop, act, rng["sessions"]), campaigns_for(cfg))
    bar.update(1)
    tenure = act.day[h.sess.pair] - pop.signup_day[h.sess.user]
    camp_log = logs.campaign_events(h)
    parts = [filler_events(pop, h.sess, tenure, cfg.aha_days, rng["events"]),
             logs.activation_follows(h, tenure, rng["events"]), camp_log.events]
    bar.update(1)
    inv = logs.invites(h, rng["invites"])
    bar.update(1)
    times = logs.order_times(h)
    bar.update(1)
    events = Events.concat(parts + [inv.events, times.events])
    events = events.take(np.flatnonzero(events.time < cfg.days * DAY))   # the data stops at the period's end
    inside = times.time < cfg.days * DAY
    times = logs.OrderTimes(times.pair[inside], times.nth[inside], times.user[inside], times.time[inside], times.events)
    bot_log = logs.bots(h, rng["bots"])
    items, events = logs.content(h, Events.concat([events, bot_log.events]), rng["content"])
    orders = logs.order_details(h, times, logs.last_viewed_topic(events, items, times.user, times.time),
                                rng["orders"])
    bar.update(1)
    rewards = logs.rewards(h, camp_log.check_in_pairs, inv.referrer, rng["campaigns"])
    bar.update(1)
    feedback = logs.feedback(h, rng["feedback"])
    bar.update(1)
    pools = IdentityPools.build(cfg.locale, cfg.seed)
    people = logs.people(h, bot_log, inv.referrer, pools, rng["identity"], rng["privacy"])
    bar.update(1)
    com = build_community(cfg, pop, act, h.sess, people.city_key[:pop.n], rng["community"])
    bar.update(1)
    leads = build_leads(cfg, pools, factors.weekday, rng["leads"])
    bar.update(1)

    clock = tables.Clock(np.datetime64(cfg.start.isoformat(), "s"), people.user_id)
    t: dict[str, pd.DataFrame] = {}
    t["users"] = tables.users(clock, people)
    t["events"] = tables.events(clock, h, events, bot_log)
    t["orders"] = tables.orders(clock, orders)
    t["channel_spend"] = tables.channel_spend(clock, h, t["users"], rng["spend"])
    t["content"] = tables.content(clock, items, pools, rng["identity"])
    t["campaigns"] = tables.campaigns(clock, h.campaigns, cfg.n_users)
    t["campaign_targets"] = tables.campaign_targets(clock, h)
    t["campaign_rewards"], reward_ids = tables.campaign_rewards(clock, rewards)
    t["feedback"] = tables.feedback(clock, h, feedback, pools, rng["identity"])
    t["experiments"] = tables.experiments(clock, h, rng["experiments"])
    t["invites"] = tables.invites(clock, inv, people, pools, rng["invites"])
    community_tables, community_ids = tables.community(clock, com, pools, rng["identity"])
    t.update(community_tables)
    t["leads"] = tables.leads(clock, leads)
    t = {name: t[name] for name in TABLES}
    bar.update(1)
    planted = Planted(people.user_id[bot_log.index], (items.viral + 1).tolist(), reward_ids, rewards, com,
                      community_ids, people.user_id)
    key = answer_key(cfg, h.campaigns, t, planted)
    bar.update(1)
    return World(cfg, t, key)


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
    key.write_text(json.dumps(world.answer_key, indent=1, ensure_ascii=False, default=_json_default) + "\n",
                   encoding="utf-8")
    return paths + [readme, key]


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")

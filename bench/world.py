"""World generation by scale, pooled versus per-row Faker, and the capstone simulator's speed.

Each measurement runs in a fresh subprocess so peak memory (max RSS) belongs to
that run alone. Medians of several repeats; the machine has 2 noisy cores.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

from opsbook.texttable import format_table
from opsbook.world.config import ACCEPTED, WorldConfig

_GENERATE = """
import json, resource, sys, tempfile, time
from dataclasses import replace
from opsbook.world.config import ACCEPTED, WorldConfig
from opsbook.world.generate import generate_world, write_world
cfg = replace(WorldConfig(), n_users=int(sys.argv[1]))
t0 = time.perf_counter()
world = generate_world(cfg, progress=False)
t1 = time.perf_counter()
write = sys.argv[2] == "1"
if write:
    with tempfile.TemporaryDirectory() as d:
        write_world(world, d + "/w", d + "/k.json")
t2 = time.perf_counter()
print(json.dumps({"simulate": t1 - t0, "write": t2 - t1 if write else None, "events": len(world.tables["events"]),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_USERS = """
import json, sys, time
import numpy as np
from faker import Faker
from opsbook.world.identity import IdentityPools
n, mode = int(sys.argv[1]), sys.argv[2]
t0 = time.perf_counter()
if mode == "per_row":
    fake = Faker("en_US"); fake.seed_instance(1)
    rows = []
    for _ in range(n):
        female = fake.boolean()
        rows.append((fake.name_female() if female else fake.name_male(), female, fake.random_int(16, 70),
                     fake.city(), fake.date_time_between("-180d", "now"), fake.random_element(("ios", "android"))))
else:
    rng = np.random.default_rng(1)
    pools = IdentityPools.build("en_US", 1)
    female = rng.random(n) < 0.6
    names = pools.names(rng, female)
    _, city, tier = pools.cities(rng, n)
    age = rng.integers(16, 71, n)
    signup = np.datetime64("2025-01-01") + rng.integers(0, 180 * 86400, n).astype("timedelta64[s]")
    platform = np.array(["ios", "android"])[rng.integers(0, 2, n)]
print(json.dumps({"seconds": time.perf_counter() - t0}))
"""


def _run(code: str, *args: object) -> dict:
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _table(title: str, header: list[str], rows: list[list[str]]) -> None:
    print(f"\n{title}\n{format_table(header, rows, right=range(len(header)))}")


def scaling(quick: bool) -> None:
    base = WorldConfig().n_users
    top = ACCEPTED["n_users"][1] // base                      # up to the largest world the CLI accepts
    scales = (1, 2) if quick else (1, 2, top)
    rows, per_user = [], {}
    for s in scales:
        repeats = 1 if quick or s == top else 3
        runs = [_run(_GENERATE, base * s, int(s == 1)) for _ in range(repeats)]
        sim = statistics.median(r["simulate"] for r in runs)
        write = statistics.median(r["write"] for r in runs) if s == 1 else None
        per_user[s] = sim / (base * s)
        rows.append([f"{s}x", f"{base * s:,}", f"{runs[0]['events']:,}", f"{repeats}", f"{sim:.2f}",
                     "-" if write is None else f"{write:.2f}", "-" if write is None else f"{sim + write:.2f}",
                     f"{max(r['peak_mb'] for r in runs):,.0f}", f"{per_user[s] / per_user[1]:.2f}"])
    _table("World generation (median of repeats; written to gzip CSV at 1x only)",
           ["scale", "users", "events", "runs", "simulate s", "write s", "total s", "peak MB", "s/user vs 1x"], rows)


def users_table(quick: bool) -> None:
    n_row, n_pool = (1_000, 50_000) if quick else (3_000, 200_000)
    per_row = statistics.median(_run(_USERS, n_row, "per_row")["seconds"] for _ in range(3))
    pooled = statistics.median(_run(_USERS, n_pool, "pooled")["seconds"] for _ in range(3))
    r_row, r_pool = n_row / per_row, n_pool / pooled
    _table("Users table: one Faker call set per row versus seeded pools (median of 3)",
           ["method", "rows", "seconds", "rows/s", "speed-up"],
           [["per-row Faker", f"{n_row:,}", f"{per_row:.2f}", f"{r_row:,.0f}", "1.0x"],
            ["pooled Faker + numpy", f"{n_pool:,}", f"{pooled:.2f}", f"{r_pool:,.0f}", f"{r_pool / r_row:,.0f}x"]])


def simulator(quick: bool) -> None:
    from opsbook.simulator import _history, simulate_plan

    plan = {"channel_budget": {"search_ads": 10_000, "social_ads": 9_000, "content_marketing": 10_000},
            "campaigns": [{"kind": "coupon", "target": "dormant", "budget": 3_000}], "fix_release": True}
    repeats = 2 if quick else 5
    cold, warm = [], []
    for seed in range(repeats):
        _history.cache_clear()
        t0 = time.perf_counter()
        simulate_plan(plan, days=30, seed=seed)
        t1 = time.perf_counter()
        simulate_plan(plan, days=30, seed=seed + 100)
        cold.append(t1 - t0)
        warm.append(time.perf_counter() - t1)
    _table(f"Simulator: one 30-day run on the default world (median of {repeats})",
           ["run", "seconds"],
           [["first run (replays the world's history)", f"{statistics.median(cold):.2f}"],
            ["further runs (history cached)", f"{statistics.median(warm):.2f}"]])


def run(quick: bool = False) -> None:
    scaling(quick)
    users_table(quick)
    simulator(quick)

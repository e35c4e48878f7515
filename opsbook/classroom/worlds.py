"""One world per student (nbgrader issue #1153): the seed is a hash of the course salt and the student id.

    seed = int(sha256(f"{salt}\\n{student}").hexdigest()[:8], 16)

so the same salt and roster always give the same worlds (they can be
regenerated instead of archived), another term's salt gives other worlds, and
no list of seeds has to be kept. Each world is ``OUT/<student>/`` (hand it to
that student), answer keys go to ``OUT/_instructor/`` (never hand those out),
and ``OUT/worlds.json`` records salt, size and checksums. Grading a submission
with ``opsbook class grade --worlds OUT`` runs its hidden tests on
``OUT/<student>/``: hidden tests recompute their expectations from the loaded
world (DESIGN rule 6), so every world is graded fairly, and numbers copied from
another student's world fail.

Worlds default to 5,000 users (a quarter of the course's default world): every
planted effect is still there and 100 worlds take minutes, not an hour.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from pathlib import Path

WORLDS_FILE = "worlds.json"
INSTRUCTOR_DIR = "_instructor"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")


def student_seed(salt: str, student: str) -> int:
    """The world seed of ``student`` under ``salt`` (32 bits of a SHA-256)."""
    return int(hashlib.sha256(f"{salt}\n{student}".encode()).hexdigest()[:8], 16)


def read_students(path: Path) -> list[str]:
    """Student ids from a file: one per line, or a CSV with an ``id`` column (nbgrader's students.csv)."""
    text = Path(path).read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if lines and "," in lines[0] and "id" in [c.strip() for c in lines[0].split(",")]:
        ids = [row["id"].strip() for row in csv.DictReader(text.splitlines()) if row.get("id", "").strip()]
    else:
        ids = lines
    bad = [s for s in ids if not STUDENT_ID.match(s)]
    if bad:
        raise ValueError(f"student ids must be usable as folder names (letters, digits, _ . @ + -): {bad[:5]}")
    if len(set(ids)) != len(ids):
        raise ValueError("a student id appears twice in " + str(path))
    return ids


def make_worlds(students: Iterable[str], out: Path, users: int = 5000, days: int | None = None,
                salt: str | None = None, progress: bool = True) -> dict:
    """Generate (or keep, when already there with the same seed and size) one world per student."""
    from tqdm import tqdm

    from opsbook.world.config import WorldConfig
    from opsbook.world.generate import generate_world, write_world

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / WORLDS_FILE
    old = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else {}
    salt = salt or old.get("salt") or secrets.token_hex(8)
    students = list(students)
    days = days or WorldConfig.days
    manifest = {"salt": salt, "users": users, "days": days, "seed_rule": "int(sha256(salt + '\\n' + student)[:8], 16)",
                "students": {}}
    for student in tqdm(students, desc="worlds", unit="world", disable=not progress):
        if not STUDENT_ID.match(student):
            raise ValueError(f"student id {student!r} cannot be a folder name")
        seed = student_seed(salt, student)
        folder = out / student
        meta = folder / "world.json"
        same = meta.is_file() and _meta_matches(meta, seed, users, days) and (folder / "MANIFEST.sha256").is_file()
        if not same:
            world = generate_world(WorldConfig(seed=seed, n_users=users, days=days), progress=False)
            write_world(world, folder, key_path=out / INSTRUCTOR_DIR / f"{student}.answer_key.json")
        manifest["students"][student] = {
            "seed": seed, "folder": student,
            "manifest_sha256": hashlib.sha256((folder / "MANIFEST.sha256").read_bytes()).hexdigest()}
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out / "RELEASE.md").write_text(release_note(manifest), encoding="utf-8")
    return manifest


def _meta_matches(meta: Path, seed: int, users: int, days: int) -> bool:
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    config = data.get("config", data)
    return config.get("seed") == seed and config.get("n_users") == users and config.get("days") == days


def world_for(worlds: Path, student: str) -> Path:
    """The folder of ``student``'s world under ``worlds``."""
    return Path(worlds) / student


def release_note(manifest: dict) -> str:
    """RELEASE.md: what to hand out, how students use it, how grading finds it."""
    n = len(manifest["students"])
    return f"""# Per-student worlds

{n} worlds of {manifest['users']:,} users and {manifest['days']} days, one folder per student id. Each
world is generated from the seed `{manifest['seed_rule']}` with this term's salt (in `worlds.json`): the same
salt and roster regenerate the same worlds byte for byte (`opsbook class worlds` again).

## Hand out

Give each student **only their own folder** `<student id>/` (LMS upload, JupyterHub volume, or a
per-student image). Never hand out `{INSTRUCTOR_DIR}/` (the answer keys) or `worlds.json` (the salt).

## Students

Put the folder anywhere and tell the notebooks where it is, either

```bash
export OPSBOOK_DATA_DIR=/path/to/my-world     # before `make lab`; every notebook with DATA_DIR = None uses it
```

or set `DATA_DIR = "/path/to/my-world"` in the notebook's first cell. Answers differ from a
classmate's: the data are different, the methods are the same.

## Grading

```bash
opsbook class grade <assignment> --worlds <this folder>
```

runs each submission's hidden tests on that student's world (the grader sets
`OPSBOOK_DATA_DIR`; the submission's own `DATA_DIR` cannot point elsewhere: other folders do
not exist in the sandbox). A student without a world here is reported as `no-world` and not
graded.
"""

"""The data dictionary: complete, and silent about the planted truths."""

from __future__ import annotations

from dataclasses import replace

from opsbook.world.config import WorldConfig
from opsbook.world.dictionary import render_dictionary
from opsbook.world.schema import TABLES

PUBLIC = {"seed", "n_users", "days", "start", "locale"}


def render(config: WorldConfig) -> str:
    return render_dictionary(config.as_dict(), {name: 1000 + i for i, name in enumerate(TABLES)})


def test_every_table_and_column_is_documented() -> None:
    text = render(WorldConfig())
    for i, table in enumerate(TABLES.values()):
        section = text.split(f"## `{table.name}`")[1].split("\n## ")[0]
        assert f"rows: {1000 + i:,}" in section and table.filename in section
        for column in table.columns:
            assert f"| `{column.name}` |" in section
        for rule in table.rules:
            assert rule.text.replace("|", "\\|") in section.split("Notes (")[0]
        for note in table.notes:
            assert note.replace("|", "\\|") in section.split("Notes (")[1]
    assert "| `referrer_id` | integer | yes |  | `users.user_id` |" in text
    assert "| `age` | integer | no | 16 to 70 |" in text
    assert "| `leave_time` | datetime | yes |  |  |" in text
    assert "checks them" in text and "not guaranteed row by row" in text


def test_rules_are_checked_and_notes_are_not() -> None:
    """A sentence that does not hold in every world is a note: the one about post events and the outage."""
    content = TABLES["content"]
    assert any("except when the post fell into a gap of the tracking" in note for note in content.notes)
    assert not any("post" in rule.text and "matching" in rule.text for rule in content.rules)


def test_settings_period_and_conventions() -> None:
    text = render(WorldConfig(seed=7, n_users=500, days=31, locale="zh_CN"))
    assert "seed: `7`" in text and "2025-01-01 to 2025-02-01 (exclusive), 31 days" in text
    assert "--seed 7 --users 500 --days 31 --locale zh_CN" in text
    assert "Asia/Shanghai" in text and "[start, end)" in text and "CNY" in text and "## Data notes" in text


def test_planted_truths_do_not_leak() -> None:
    secret = replace(WorldConfig(), bug_version="7.7.7", fix_version="7.7.8", poor_channel="app_store",
                     outage_hours=(13, 17), bot_hour=5, spam_wave_day=97, core_departure_day=113)
    text = render(secret)
    assert "7.7.7" not in text and "7.7.8" not in text and "13, 17" not in text
    assert "2025-04-08" not in text and "2025-04-24" not in text
    for key in set(secret.as_dict()) - PUBLIC:
        assert key not in text, key

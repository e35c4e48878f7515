"""The world validator and the ``opsbook world`` commands, on a tiny hand-made world."""

from __future__ import annotations

import gzip
import sys
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from tiny_world import TINY_WORLD, write_tiny_world
from opsbook.cli import main
from opsbook.world.io import MANIFEST
from opsbook.world.validate import LIMIT, WorldValidationError, check_world, validate_world


def edit(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    """Rewrite a .csv.gz file through ``change`` on its lines (line 0 is the header)."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress(("\n".join(change(lines)) + "\n").encode()))


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell; ``row`` is the 1-based data row."""
    def change(lines: list[str]) -> list[str]:
        header = lines[0].split(",")
        cells = lines[row].split(",")
        cells[header.index(column)] = value
        lines[row] = ",".join(cells)
        return lines

    edit(path, change)


def messages(data_dir: Path, check_manifest: bool = False) -> list[str]:
    return [str(p) for p in validate_world(data_dir, check_manifest=check_manifest)]


def test_tiny_world_is_valid(tiny_world_dir: Path) -> None:
    assert validate_world(tiny_world_dir) == []
    check_world(tiny_world_dir)


def test_missing_folder_and_file(tiny_world_dir: Path) -> None:
    (tiny_world_dir / "orders.csv.gz").unlink()
    [problem] = messages(tiny_world_dir)
    assert "orders.csv.gz is missing" in problem and "make data" in problem
    [problem] = messages(tiny_world_dir / "nowhere")
    assert "No world folder" in problem and "make data" in problem


def test_truncated_gzip_names_the_file(tiny_world_dir: Path) -> None:
    path = tiny_world_dir / "events.csv.gz"
    data = gzip.compress(gzip.decompress(path.read_bytes()) * 50)
    path.write_bytes(data[: len(data) // 2])
    [problem] = messages(tiny_world_dir)
    assert problem.startswith("events.csv.gz cannot be read")
    assert "truncated" in problem


def test_not_gzip_names_the_file(tiny_world_dir: Path) -> None:
    (tiny_world_dir / "users.csv.gz").write_text("user_id\n1\n")
    [problem] = messages(tiny_world_dir)
    assert problem.startswith("users.csv.gz cannot be read") and "gzip" in problem


def test_missing_and_extra_column(tiny_world_dir: Path) -> None:
    edit(tiny_world_dir / "orders.csv.gz", lambda lines: [line.rsplit(",", 1)[0] + ",x" for line in lines])
    [problem] = messages(tiny_world_dir)
    assert problem.startswith("orders.csv.gz:")
    assert "missing column campaign_id" in problem and "unexpected column x" in problem


def test_broken_foreign_key_names_file_column_row_value(tiny_world_dir: Path) -> None:
    set_cell(tiny_world_dir / "events.csv.gz", 2, "user_id", "99999")
    assert messages(tiny_world_dir) == ["events.csv.gz, column user_id, row 2: user 99999 is not in users.csv.gz"]


def test_nullable_foreign_key(tiny_world_dir: Path) -> None:
    set_cell(tiny_world_dir / "events.csv.gz", 2, "content_id", "77")
    assert messages(tiny_world_dir) == ["events.csv.gz, column content_id, row 2: content 77 is not in content.csv.gz"]


@pytest.mark.parametrize(("table", "row", "column", "value", "expected"), [
    ("orders", 2, "amount", "abc", "orders.csv.gz, column amount, row 2: 'abc' is not a number"),
    ("users", 3, "age", "4x", "users.csv.gz, column age, row 3: '4x' is not a whole number"),
    ("events", 1, "event_time", "2025-01-01", "events.csv.gz, column event_time, row 1: '2025-01-01' is not a time"),
    ("orders", 1, "coupon_used", "maybe", "orders.csv.gz, column coupon_used, row 1: 'maybe' is not True or False"),
    ("users", 1, "age", "", "users.csv.gz, column age, row 1: empty"),
    ("feedback", 2, "comment", "", "feedback.csv.gz, column comment, row 2: empty"),
    ("users", 2, "platform", "windows", "users.csv.gz, column platform, row 2: 'windows' is not one of: ios, android"),
    ("users", 1, "age", "12", "users.csv.gz, column age, row 1: 12 is below the minimum 16"),
    ("feedback", 1, "nps_score", "11", "feedback.csv.gz, column nps_score, row 1: 11 is above the maximum 10"),
    ("orders", 2, "order_id", "1", "orders.csv.gz, column order_id, row 2: order_id=1 repeats an earlier row"),
    ("campaign_targets", 2, "user_id", "1",
     "campaign_targets.csv.gz, columns campaign_id, user_id, row 2: campaign_id=2, user_id=1 repeats"),
])
def test_column_checks_name_the_row(tiny_world_dir: Path, table: str, row: int, column: str, value: str,
                                    expected: str) -> None:
    set_cell(tiny_world_dir / f"{table}.csv.gz", row, column, value)
    found = messages(tiny_world_dir)
    assert len(found) == 1 and found[0].startswith(expected), found


@pytest.mark.parametrize(("table", "row", "column", "value", "expected"), [
    ("events", 3, "event_time", "2025-01-02 09:00:00",
     "events.csv.gz, column event_time, row 3: 2025-01-02 09:00:00 is before user 2 signed up at 2025-01-02 09:30:00"),
    ("orders", 2, "order_time", "2025-01-01 00:00:00", "orders.csv.gz, column order_time, row 2: 2025-01-01 00:00:00"
     " is before user 3 signed up"),
    ("content", 2, "created_time", "2025-01-01 10:00:00", "content.csv.gz, column created_time, row 2:"
     " 2025-01-01 10:00:00 is before author 2 signed up"),
    ("feedback", 1, "feedback_time", "2025-01-01 09:00:00", "feedback.csv.gz, column feedback_time, row 1:"),
    ("experiments", 2, "exposure_time", "2025-01-01 09:00:00", "experiments.csv.gz, column exposure_time, row 2:"),
    ("invites", 2, "sent_time", "2024-12-01 09:00:00", "invites.csv.gz, column sent_time, row 2: 2024-12-01 09:00:00"
     " is before inviter 1 signed up"),
    ("invites", 1, "sent_time", "2025-01-02 10:00:00", "invites.csv.gz, column signed_up_user_id, row 1: user 2"
     " signed up at 2025-01-02 09:30:00, before this invite was sent at 2025-01-02 10:00:00"),
    ("users", 1, "referrer_id", "2", "users.csv.gz, column referrer_id, row 1: 2 is set, but channel is 'search_ads'"),
    ("users", 2, "referrer_id", "", "users.csv.gz, column referrer_id, row 2: empty, but channel is 'referral'"),
    ("channel_spend", 1, "clicks", "2000",
     "channel_spend.csv.gz, column clicks, row 1: clicks 2000 > impressions 1000"),
    ("channel_spend", 1, "installs", "60", "channel_spend.csv.gz, column installs, row 1: installs 60 > clicks 50"),
    ("campaigns", 2, "end_time", "2025-01-05 00:00:00", "campaigns.csv.gz, column end_time, row 2:"),
])
def test_rules_between_tables(tiny_world_dir: Path, table: str, row: int, column: str, value: str,
                              expected: str) -> None:
    set_cell(tiny_world_dir / f"{table}.csv.gz", row, column, value)
    found = messages(tiny_world_dir)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_free_channels_may_have_installs_without_clicks(tiny_world_dir: Path) -> None:
    # Row 2 of the tiny world is organic_search with 0 clicks and 3 installs; as a paid channel it fails.
    assert messages(tiny_world_dir) == []
    set_cell(tiny_world_dir / "channel_spend.csv.gz", 2, "channel", "social_ads")
    assert messages(tiny_world_dir) == ["channel_spend.csv.gz, column installs, row 2: installs 3 > clicks 0"]


def test_problems_per_check_are_capped(tiny_world_dir: Path) -> None:
    edit(tiny_world_dir / "events.csv.gz", lambda lines: [lines[0]] + ["99,2025-01-01 08:00:00,1,open_app,,"] * 10)
    found = messages(tiny_world_dir)
    assert len(found) == LIMIT
    assert [int(m.split("row ")[1].split(":")[0]) for m in found] == [1, 2, 3]
    assert found[-1].endswith(f"(and {10 - LIMIT} more rows like this)")


def test_manifest_mismatch(tiny_world_dir: Path) -> None:
    set_cell(tiny_world_dir / "orders.csv.gz", 1, "amount", "59.91")
    problems = validate_world(tiny_world_dir)
    assert [p.file for p in problems] == ["orders.csv.gz"]
    assert "changed since the world was generated" in str(problems[0]) and "make data" in str(problems[0])
    assert validate_world(tiny_world_dir, check_manifest=False) == []


def test_manifest_must_list_every_table(tiny_world_dir: Path) -> None:
    manifest = tiny_world_dir / MANIFEST
    manifest.write_text("".join(line + "\n" for line in manifest.read_text().splitlines() if "users" not in line))
    [problem] = messages(tiny_world_dir, check_manifest=True)
    assert problem.startswith(f"users.csv.gz is not listed in {MANIFEST}")


def test_check_world_raises_with_summary(tiny_world_dir: Path) -> None:
    set_cell(tiny_world_dir / "events.csv.gz", 2, "user_id", "99999")
    with pytest.raises(WorldValidationError) as error:
        check_world(tiny_world_dir)
    assert len(error.value.problems) == 2  # the bad key and the changed checksum
    assert "2 problem(s)" in str(error.value) and "row 2: user 99999" in str(error.value)


def test_cli_validate_exit_codes(tiny_world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "validate", str(tiny_world_dir)]) == 0
    rows = sum(len(next(iter(columns.values()))) for columns in TINY_WORLD.values())
    assert capsys.readouterr().out.startswith(f"OK: 11 tables, {rows} rows")
    set_cell(tiny_world_dir / "events.csv.gz", 2, "user_id", "99999")
    assert main(["world", "validate", str(tiny_world_dir), "--no-manifest"]) == 1
    err = capsys.readouterr().err
    assert "1 problem(s)" in err and "row 2: user 99999 is not in users.csv.gz" in err


def test_cli_generate_passes_the_config_and_validates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    calls = {}

    def generate_world(config, progress=True):
        calls.update(config=config, progress=progress)
        return "world"

    def write_world(world, out_dir, key_path=None):
        calls.update(world=world, key_path=key_path)
        write_tiny_world(out_dir)
        return sorted(out_dir.iterdir())

    fake = types.SimpleNamespace(generate_world=generate_world, write_world=write_world)
    monkeypatch.setitem(sys.modules, "opsbook.world.generate", fake)
    out, key = tmp_path / "w", tmp_path / "key.json"
    argv = ["world", "generate", "--seed", "7", "--users", "500", "--locale", "zh_CN", "--out", str(out),
            "--key", str(key), "--no-progress"]
    assert main(argv) == 0
    config = calls["config"]
    assert (config.seed, config.n_users, config.days, config.locale) == (7, 500, 182, "zh_CN")
    assert calls["progress"] is False and calls["key_path"] == key and calls["world"] == "world"
    assert "OK: 11 tables" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["world", "generate", "--users", "0", "--out", str(out)])


def test_cli_registry_adds_commands_and_explains_missing_ones(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    def register(subparsers):
        subparsers.add_parser("demo").set_defaults(func=lambda args: 7)

    monkeypatch.setitem(sys.modules, "fake_commands", types.SimpleNamespace(register=register))
    monkeypatch.setattr("opsbook.cli.COMMANDS", (("demo", "fake_commands:register"),
                                                 ("ghost", "opsbook.no_such_module:register")))
    assert main(["demo"]) == 7
    assert main(["ghost", "--anything"]) == 1
    assert "opsbook ghost is not available" in capsys.readouterr().err

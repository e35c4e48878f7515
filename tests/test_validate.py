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


# One way to break each rule of the schema: (table, data row, column, new value, start of the expected message,
# whether that is the only problem). Keyed by (table, rule id); every rule of the schema must be here.
RULE_BREAKS: dict[tuple[str, str], list[tuple[str, int, str, str, str, bool]]] = {
    ("users", "referrer_iff_referral()"): [
        ("users", 1, "referrer_id", "2", "users.csv.gz, column referrer_id, row 1: 2 is set, but channel is "
         "'search_ads'", True),
        ("users", 2, "referrer_id", "", "users.csv.gz, column referrer_id, row 2: empty, but channel is 'referral'",
         True)],
    ("users", "unique(phone)"): [
        ("users", 3, "phone", "13912345671", "users.csv.gz, column phone, row 3: phone=13912345671 repeats an "
         "earlier row", True)],
    ("events", "after_signup(event_time, user_id)"): [
        ("events", 2, "event_time", "2024-12-31 09:00:00", "events.csv.gz, column event_time, row 2: "
         "2024-12-31 09:00:00 is before user 1 signed up at 2025-01-01 08:00:00", True)],
    ("events", "post_matches_content()"): [
        ("events", 3, "event_time", "2025-01-02 10:05:00", "events.csv.gz, column content_id, row 3: post event of "
         "user 2 at 2025-01-02 10:05:00 names content 2, created by user 2 at 2025-01-02 10:00:00", True),
        ("events", 3, "content_id", "1", "events.csv.gz, column content_id, row 3: post event of user 2 at "
         "2025-01-02 10:00:00 names content 1, created by the editorial team", True)],
    ("orders", "after_signup(order_time, user_id)"): [
        ("orders", 2, "order_time", "2025-01-01 00:00:00", "orders.csv.gz, column order_time, row 2: "
         "2025-01-01 00:00:00 is before user 3 signed up", True)],
    ("channel_spend", "paid_funnel()"): [
        ("channel_spend", 1, "clicks", "2000", "channel_spend.csv.gz, column clicks, row 1: clicks 2000 > "
         "impressions 1000", True),
        ("channel_spend", 1, "installs", "60", "channel_spend.csv.gz, column installs, row 1: installs 60 > clicks 50",
         True)],
    ("channel_spend", "signups_within_installs()"): [
        ("channel_spend", 1, "installs", "0", "channel_spend.csv.gz, column installs, row 1: 0 installs, but 1 users "
         "of this channel signed up that day", True)],
    ("content", "after_signup(created_time, author_id)"): [
        ("content", 3, "created_time", "2025-01-02 10:00:00", "content.csv.gz, column created_time, row 3: "
         "2025-01-02 10:00:00 is before author 3 signed up", True)],
    ("content", "official_iff_no_author()"): [
        ("content", 1, "is_official", "False", "content.csv.gz, column is_official, row 1: False, but author_id is "
         "empty", True)],
    ("campaigns", "ends_after_start(start_time, end_time)"): [
        ("campaigns", 2, "end_time", "2025-01-05 00:00:00", "campaigns.csv.gz, column end_time, row 2:", True)],
    ("campaign_targets", "targets_signed_up()"): [
        ("campaigns", 2, "start_time", "2025-01-02 00:00:00", "campaign_targets.csv.gz, column user_id, row 2: "
         "user 3 signed up at 2025-01-03 12:00:00, not before the campaign started", True)],
    ("campaign_rewards", "after_signup(reward_time, user_id)"): [
        ("campaign_rewards", 1, "reward_time", "2024-12-31 00:00:00", "campaign_rewards.csv.gz, column reward_time, "
         "row 1:", True)],
    ("feedback", "after_signup(feedback_time, user_id)"): [
        ("feedback", 1, "feedback_time", "2025-01-01 09:00:00", "feedback.csv.gz, column feedback_time, row 1:", True)],
    ("experiments", "after_signup(exposure_time, user_id)"): [
        ("experiments", 2, "exposure_time", "2025-01-01 09:00:00", "experiments.csv.gz, column exposure_time, row 2:",
         True)],
    ("invites", "after_signup(sent_time, inviter_id)"): [
        ("invites", 2, "sent_time", "2024-12-01 09:00:00", "invites.csv.gz, column sent_time, row 2: "
         "2024-12-01 09:00:00 is before inviter 1 signed up", True)],
    ("invites", "invitee_after_invite()"): [
        ("invites", 1, "sent_time", "2025-01-02 10:00:00", "invites.csv.gz, column signed_up_user_id, row 1: user 2"
         " signed up at 2025-01-02 09:30:00, before this invite was sent at 2025-01-02 10:00:00", True)],
    ("invites", "invitee_contact_matches()"): [
        ("invites", 1, "invitee_contact", "138****9999", "invites.csv.gz, column invitee_contact, row 1: "
         "'138****9999' is not the masked phone '138****0001' of user 2", True)],
    ("group_members", "after_signup(join_time, user_id)"): [
        ("group_members", 2, "join_time", "2025-01-02 09:00:00", "group_members.csv.gz, column join_time, row 2: "
         "2025-01-02 09:00:00 is before user 2 signed up", True)],
    ("group_members", "ends_after_start(join_time, leave_time)"): [
        ("group_members", 3, "leave_time", "2025-01-05 07:00:00", "group_members.csv.gz, column leave_time, row 3: "
         "2025-01-05 07:00:00 is not after join_time 2025-01-05 08:00:00", True)],
    ("threads", "after_signup(created_time, author_id)"): [
        ("threads", 2, "created_time", "2025-01-03 11:00:00", "threads.csv.gz, column created_time, row 2: "
         "2025-01-03 11:00:00 is before author 3 signed up", False)],
    ("threads", "member_at_time(created_time, author_id)"): [
        ("threads", 2, "group_id", "1", "threads.csv.gz, column author_id, row 2: user 3 was not a member of group 1 "
         "at 2025-01-04 10:00:00", False)],
    ("replies", "after_signup(reply_time, user_id)"): [
        ("replies", 1, "user_id", "3", "replies.csv.gz, column reply_time, row 1: 2025-01-02 12:30:00 is before "
         "user 3 signed up", False)],
    ("replies", "after_thread(reply_time)"): [
        ("replies", 1, "reply_time", "2025-01-02 11:30:00", "replies.csv.gz, column reply_time, row 1: "
         "2025-01-02 11:30:00 is before thread 1 was posted at 2025-01-02 12:00:00", True)],
    ("replies", "member_at_time(reply_time, user_id)"): [
        ("replies", 3, "user_id", "1", "replies.csv.gz, column user_id, row 3: user 1 was not a member of group 2 "
         "at 2025-01-04 11:00:00", True)],
    ("votes", "after_signup(vote_time, user_id)"): [
        ("votes", 1, "user_id", "3", "votes.csv.gz, column vote_time, row 1: 2025-01-02 13:00:00 is before user 3 "
         "signed up", False)],
    ("votes", "after_thread(vote_time)"): [
        ("votes", 2, "vote_time", "2025-01-04 09:00:00", "votes.csv.gz, column vote_time, row 2: 2025-01-04 09:00:00 "
         "is before thread 2 was posted", True)],
    ("votes", "member_at_time(vote_time, user_id)"): [
        ("votes", 2, "user_id", "2", "votes.csv.gz, column user_id, row 2: user 2 was not a member of group 2", True)],
    ("moderation_actions", "moderated_target()"): [
        ("moderation_actions", 1, "target_id", "99", "moderation_actions.csv.gz, column target_id, row 1: reply 99 "
         "does not exist", True),
        ("moderation_actions", 2, "action_time", "2025-01-04 09:00:00", "moderation_actions.csv.gz, column "
         "action_time, row 2: 2025-01-04 09:00:00 is before thread 2 was posted", True)],
    ("moderation_actions", "unique(target_type, target_id)"): [
        ("moderation_actions", 2, "target_type", "reply", "moderation_actions.csv.gz, columns target_type, target_id, "
         "row 2: target_type=reply, target_id=2 repeats an earlier row", True)],
    ("leads", "kept_leads_only()"): [
        ("leads", 2, "tier", "B", "leads.csv.gz, column tier, row 2: 'B' is set, but the lead was dropped as "
         "'duplicate'", True),
        ("leads", 4, "tier", "", "leads.csv.gz, column tier, row 4: empty, but the lead was kept", True)],
    ("leads", "lead_order()"): [
        ("leads", 1, "first_followup_time", "2025-01-01 10:00:00", "leads.csv.gz, column first_followup_time, row 1: "
         "2025-01-01 10:00:00 is before the lead was created", True),
        ("leads", 1, "amount", "", "leads.csv.gz, column amount, row 1:", True)],
}
BREAK_CASES = [(key, *case) for key, cases in RULE_BREAKS.items() for case in cases]


def test_every_schema_rule_has_a_check_and_a_breaking_case() -> None:
    from opsbook.world.schema import TABLES
    from opsbook.world.validate import CHECKS
    rules = {(t.name, r.id) for t in TABLES.values() for r in t.rules}
    assert rules == set(RULE_BREAKS), (sorted(rules - set(RULE_BREAKS)), sorted(set(RULE_BREAKS) - rules))
    assert {r.check for t in TABLES.values() for r in t.rules} <= set(CHECKS)


@pytest.mark.parametrize(("rule", "table", "row", "column", "value", "expected", "only"), BREAK_CASES,
                         ids=[f"{k[0]}.{k[1]}-{i}" for i, (k, *_) in enumerate(BREAK_CASES)])
def test_breaking_a_rule_is_reported(tiny_world_dir: Path, rule: tuple[str, str], table: str, row: int, column: str,
                                     value: str, expected: str, only: bool) -> None:
    """The validator reports the broken rule with file, column, row and values (alone, where only that breaks)."""
    assert messages(tiny_world_dir) == []
    set_cell(tiny_world_dir / f"{table}.csv.gz", row, column, value)
    found = messages(tiny_world_dir)
    assert any(m.startswith(expected) for m in found), found
    if only:
        assert len(found) == 1, found


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
    assert capsys.readouterr().out.startswith(f"OK: {len(TINY_WORLD)} tables, {rows} rows")
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
    argv = ["world", "generate", "--seed", "7", "--users", "5000", "--days", "366", "--locale", "zh_CN", "--out",
            str(out), "--key", str(key), "--no-progress"]
    assert main(argv) == 0
    config = calls["config"]
    assert (config.seed, config.n_users, config.days, config.locale) == (7, 5000, 366, "zh_CN")
    assert calls["progress"] is False and calls["key_path"] == key and calls["world"] == "world"
    assert f"OK: {len(TINY_WORLD)} tables" in capsys.readouterr().out


@pytest.mark.parametrize(("args", "message"), [
    (["--users", "0"], "argument --users: n_users must be from 5,000 to 100,000 (got 0)"),
    (["--users", "4999"], "argument --users: n_users must be from 5,000 to 100,000 (got 4,999)"),
    (["--users", "100001"], "argument --users: n_users must be from 5,000 to 100,000 (got 100,001)"),
    (["--users", "lots"], "argument --users: must be a whole number, got 'lots'"),
    (["--days", "174"], "argument --days: days must be from 175 to 366 (got 174): the period must include the 618"),
    (["--days", "367"], "argument --days: days must be from 175 to 366 (got 367)"),
    (["--locale", "fr_FR"], "argument --locale: invalid choice: 'fr_FR'"),
])
def test_cli_generate_refuses_worlds_outside_the_accepted_range(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                                 args: list[str], message: str) -> None:
    """A world the course cannot promise to work on is refused in one line, exit code 2, no traceback."""
    with pytest.raises(SystemExit) as stop:
        main(["world", "generate", *args, "--out", str(tmp_path / "w")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "w").exists()
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert line.startswith("opsbook world generate: error: ") and message in line, err


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

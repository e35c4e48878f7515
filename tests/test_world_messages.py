"""``opsbook world validate|generate`` in Chinese: the OK line, the one-line errors and the problems of a world."""

from __future__ import annotations

import gzip
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from tiny_world import TINY_WORLD, write_tiny_world

from opsbook import language
from opsbook.cli import main
from opsbook.world import cli as world_cli
from opsbook.world import validate as world_validate
from opsbook.world.config import out_of_range
from opsbook.world.validate import WorldValidationError, check_world, validate_world

ROWS = sum(len(next(iter(columns.values()))) for columns in TINY_WORLD.values())


@pytest.fixture(autouse=True)
def _restore_language() -> Iterator[None]:
    """``--lang`` sets the process's language: put it back after each test."""
    before = language.get()
    yield
    language.set(before)


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a .csv.gz table; ``row`` is the 1-based data row."""
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    header, cells = lines[0].split(","), lines[row].split(",")
    cells[header.index(column)] = value
    lines[row] = ",".join(cells)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def error_line(err: str) -> str:
    [line] = [line for line in err.splitlines() if not line.startswith((" ", "usage:"))]
    return line


@pytest.mark.parametrize("where", ["after", "before", "equals"])
def test_the_ok_line_in_chinese(tiny_world_dir: Path, capsys: pytest.CaptureFixture[str], where: str) -> None:
    lang = {"after": [str(tiny_world_dir), "--lang", "zh"], "before": ["--lang", "zh", str(tiny_world_dir)],
            "equals": [str(tiny_world_dir), "--lang=zh"]}[where]
    assert main(["world", "validate", *lang]) == 0
    assert capsys.readouterr().out == f"OK：{tiny_world_dir} 中共有 {len(TINY_WORLD)} 张表、{ROWS} 行\n"


def test_the_language_of_the_session_is_the_default(tiny_world_dir: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """Without --lang the command follows the current language (``OPSBOOK_LANG``), and --lang en wins over it."""
    language.set("zh")
    assert main(["world", "validate", str(tiny_world_dir)]) == 0
    assert capsys.readouterr().out.startswith("OK：")
    assert main(["world", "validate", str(tiny_world_dir), "--lang", "en"]) == 0
    assert capsys.readouterr().out == f"OK: {len(TINY_WORLD)} tables, {ROWS} rows in {tiny_world_dir}\n"


def test_a_problem_line_in_chinese(tiny_world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    set_cell(tiny_world_dir / "events.csv.gz", 2, "user_id", "99999")
    assert main(["world", "validate", str(tiny_world_dir), "--no-manifest", "--lang", "zh"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{tiny_world_dir} 处的数据世界有 1 个问题：",
                                "  - events.csv.gz，列 user_id，第 2 行：users.csv.gz 中没有 user_id = 99999"]


def test_the_checksum_and_a_rule_in_chinese(tiny_world_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A changed file breaks its checksum; a rule's sentence comes from the Chinese data dictionary."""
    set_cell(tiny_world_dir / "users.csv.gz", 2, "phone", "13912345671")  # user 2 gets user 1's phone
    assert main(["world", "validate", str(tiny_world_dir), "--lang", "zh"]) == 1
    err = capsys.readouterr().err
    assert "users.csv.gz 在世界生成之后被改动过（它的 sha256 与 MANIFEST.sha256 中的不一致）；" \
           "`make data` 会重新生成默认世界。" in err
    assert ("users.csv.gz，列 phone，第 2 行：phone=13912345671 与前面的某一行重复"
            "（任意两个用户的手机号都不相同）") in err


def test_the_python_api_follows_the_language(tiny_world_dir: Path) -> None:
    """``check_world`` (what ``load_world`` and ``opsbook lab`` use) writes in the current language too."""
    set_cell(tiny_world_dir / "users.csv.gz", 1, "age", "old")
    set_cell(tiny_world_dir / "orders.csv.gz", 1, "order_time", "2024-12-01 00:00:00")
    language.set("zh")
    with pytest.raises(WorldValidationError) as error:
        check_world(tiny_world_dir, check_manifest=False)
    message = str(error.value)
    assert message.startswith(f"{tiny_world_dir} 处的数据世界有 2 个问题：")
    assert "users.csv.gz，列 age，第 1 行：'old' 不是整数" in message
    assert ("orders.csv.gz，列 order_time，第 1 行：2024-12-01 00:00:00 早于用户 1 的注册时间 "
            "2025-01-01 08:00:00") in message
    language.set("en")
    assert [str(p) for p in validate_world(tiny_world_dir, check_manifest=False)] == [
        "users.csv.gz, column age, row 1: 'old' is not a whole number",
        "orders.csv.gz, column order_time, row 1: 2024-12-01 00:00:00 is before user 1 signed up at "
        "2025-01-01 08:00:00",
    ]


def test_a_missing_folder_in_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "validate", str(tmp_path / "nowhere"), "--lang", "zh"]) == 1
    assert "处没有数据世界文件夹：`make data` 会重新生成默认世界，或者指定存放 *.csv.gz 数据表的文件夹。" \
           in capsys.readouterr().err


@pytest.mark.parametrize(("args", "message"), [
    (["--users", "4999", "--lang", "zh"],
     "参数 --users：n_users 必须在 5,000 到 100,000 之间（输入的是 4,999）：世界再小就显示不出预设的效应，"
     "再大就超出了笔记本电脑的承受能力"),
    (["--lang", "zh", "--days", "367"],
     "参数 --days：days 必须在 175 到 366 之间（输入的是 367）：时间范围必须包含 618 大促及其后的一周，并且不超过一年"),
    (["--users", "lots", "--lang=zh"], "参数 --users：必须是整数，输入的是 'lots'"),
    (["--locale", "fr_FR", "--lang", "zh"], "参数 --locale：无效的选项：'fr_FR'"),
])
def test_out_of_range_errors_in_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                        message: str) -> None:
    """The one-line refusal is in Chinese wherever --lang stands, exit code 2, no traceback, nothing written."""
    with pytest.raises(SystemExit) as stop:
        main(["world", "generate", *args, "--out", str(tmp_path / "w")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not (tmp_path / "w").exists()
    line = error_line(err)
    assert line.startswith("opsbook world generate：错误：") and message in line, err


def test_a_missing_option_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["world", "generate", "--lang", "zh"])
    assert error_line(capsys.readouterr().err) == "opsbook world generate：错误：缺少必需的参数：--out"


def test_english_is_unchanged_after_chinese(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    language.set("zh")
    with pytest.raises(SystemExit):
        main(["world", "generate", "--users", "0", "--lang", "en", "--out", str(tmp_path / "w")])
    assert error_line(capsys.readouterr().err) == \
        f"opsbook world generate: error: argument --users: {out_of_range('n_users', 0)}"


@pytest.mark.parametrize("texts", [world_validate._TEXT, world_cli._TEXT], ids=["validate", "cli"])
def test_every_message_has_both_languages_with_the_same_fields(texts: dict) -> None:
    different = {"no_parent", "out_of_range"}  # Chinese names the key column; the English range message is given
    for key, text in texts.items():
        assert set(text) == {"en", "zh"}, key
        if key not in different:
            fields = [set(re.findall(r"{(\w+)", text[lang])) for lang in ("en", "zh")]
            assert fields[0] == fields[1], key


def test_generate_reports_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    def write_world(world, out_dir, key_path=None):
        write_tiny_world(out_dir)
        return sorted(out_dir.iterdir())

    fake = types.SimpleNamespace(generate_world=lambda config, progress=True: "world", write_world=write_world)
    monkeypatch.setitem(sys.modules, "opsbook.world.generate", fake)
    out = tmp_path / "w"
    assert main(["world", "generate", "--out", str(out), "--no-progress", "--lang", "zh"]) == 0
    files = len(list(out.iterdir()))
    assert capsys.readouterr().out.splitlines() == [f"已将 {files} 个文件写入 {out}",
                                                    f"OK：{out} 中共有 {len(TINY_WORLD)} 张表、{ROWS} 行"]

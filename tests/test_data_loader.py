"""``opsbook.data``: typed frames, and errors that say what to do."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from tiny_world import TINY_WORLD

from opsbook import data
from opsbook.data import load_table, load_world
from opsbook.world.schema import TABLE_ORDER


def test_load_world_returns_every_table_typed(tiny_world_dir: Path) -> None:
    world = load_world(tiny_world_dir)
    assert list(world) == list(TABLE_ORDER)
    users, orders, events = world["users"], world["orders"], world["events"]
    assert users["signup_time"].dtype.kind == "M"
    assert world["channel_spend"]["date"].dtype.kind == "M"
    assert users["user_id"].dtype == "int64"
    assert users["referrer_id"].dtype == "Int64" and users["referrer_id"].isna().tolist() == [True, False, True]
    assert orders["coupon_used"].dtype == "bool" and orders["coupon_used"].tolist() == [False, True]
    assert orders["amount"].dtype == "float64"
    assert pd.api.types.is_string_dtype(users["channel"])
    assert events["event_time"].iloc[3] == pd.Timestamp("2025-01-05 20:00:00")
    assert len(events) == len(TINY_WORLD["events"]["user_id"])


def test_load_some_tables_and_one_table(tiny_world_dir: Path) -> None:
    assert list(load_world(str(tiny_world_dir), tables=["orders", "users"])) == ["orders", "users"]
    assert list(load_world(tiny_world_dir, tables="orders")) == ["orders"]
    pd.testing.assert_frame_equal(load_table("orders", tiny_world_dir), load_world(tiny_world_dir)["orders"])
    with pytest.raises(ValueError, match="Unknown table 'order'.*orders"):
        load_table("order", tiny_world_dir)


def test_default_folder_is_the_repos_datasets(monkeypatch: pytest.MonkeyPatch, tiny_world_dir: Path) -> None:
    assert Path(__file__).resolve().parent.parent / "datasets" == data.DEFAULT_DATA_DIR
    monkeypatch.setattr(data, "DEFAULT_DATA_DIR", tiny_world_dir)
    assert len(load_table("users")) == 3


def test_missing_folder_says_where_and_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as error:
        load_world(tmp_path / "nowhere")
    message = str(error.value)
    assert str(tmp_path / "nowhere") in message and "make data" in message and "DATA_DIR" in message


def test_missing_file_names_it(tiny_world_dir: Path) -> None:
    (tiny_world_dir / "feedback.csv.gz").unlink()
    with pytest.raises(FileNotFoundError) as error:
        load_world(tiny_world_dir)
    message = str(error.value)
    assert "feedback.csv.gz is missing" in message and str(tiny_world_dir) in message and "make data" in message


def test_truncated_file_gives_a_clear_value_error(tiny_world_dir: Path) -> None:
    path = tiny_world_dir / "events.csv.gz"
    payload = gzip.compress(gzip.decompress(path.read_bytes()) * 50)
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ValueError, match=r"events\.csv\.gz .*cannot be loaded: .*truncated.*make data"):
        load_table("events", tiny_world_dir)


def test_missing_column_gives_a_clear_value_error(tiny_world_dir: Path) -> None:
    path = tiny_world_dir / "orders.csv.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    path.write_bytes(gzip.compress("\n".join(line.rsplit(",", 1)[0] for line in lines).encode()))
    with pytest.raises(ValueError, match=r"orders\.csv\.gz .*missing column campaign_id"):
        load_table("orders", tiny_world_dir)


def test_environment_variable_chooses_the_world_when_data_dir_is_none(tiny_world_dir, monkeypatch):
    from opsbook.data import DEFAULT_DATA_DIR, resolve_data_dir
    monkeypatch.delenv("OPSBOOK_DATA_DIR", raising=False)
    assert resolve_data_dir(None) == DEFAULT_DATA_DIR
    monkeypatch.setenv("OPSBOOK_DATA_DIR", str(tiny_world_dir))
    assert resolve_data_dir(None) == tiny_world_dir
    assert len(load_world(None, ["users"])["users"]) == len(load_world(tiny_world_dir, ["users"])["users"])
    assert resolve_data_dir("elsewhere") == Path("elsewhere")


def test_messages_follow_the_course_language(tmp_path: Path) -> None:
    from opsbook import language

    language.set("zh")
    try:
        with pytest.raises(FileNotFoundError) as error:
            load_world(tmp_path / "nowhere")
    finally:
        language.set("en")
    assert "没有数据世界文件夹" in str(error.value) and "make data" in str(error.value)

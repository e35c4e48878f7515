"""``opsbook lab``: the command it runs, nbgrader's learner extensions, the Chinese lab, and a real server on loopback.

The README's `make lab` in a fresh clone, in a browser, is tested in test_browser_lab.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from opsbook.cli import build_parser
from opsbook.lab import (
    LAB_PLUGINS_OFF,
    LAB_PLUGINS_ON,
    TRANSLATION_PLUGIN,
    configure_extensions,
    extension_commands,
    extensions_configured,
    has_display,
    lab_command,
    language_settings_dir,
    notebooks_folder,
)
from opsbook.paths import NOTEBOOKS, ROOT


def test_lab_command_serves_notebooks_folder_on_loopback():
    assert lab_command() == [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={NOTEBOOKS}",
                             "--ServerApp.ip=127.0.0.1"]
    assert lab_command(port=8899, browser=False)[-2:] == ["--ServerApp.port=8899", "--no-browser"]
    chinese = lab_command(root_dir=NOTEBOOKS / "zh", allow_root=True, app_settings_dir=Path("/x/settings-zh_CN"))
    assert f"--ServerApp.root_dir={NOTEBOOKS / 'zh'}" in chinese
    assert chinese[-2:] == ["--LabApp.app_settings_dir=/x/settings-zh_CN", "--allow-root"]


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "linux", True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
    ({"BROWSER": "/vscode/helper"}, "linux", True),  # remote editors open the page on the learner's machine
    ({"DISPLAY": ""}, "linux", False),
    ({}, "darwin", True),
    ({}, "win32", True),
])
def test_display_detection(environ, platform, expected):
    assert has_display(environ, platform) is expected


@pytest.mark.parametrize(("given", "expected"), [("zh", "zh"), ("zh-CN", "zh"), ("zh_CN.UTF-8", "zh"), ("EN", "en")])
def test_lang_option_accepts_the_usual_spellings(given, expected):
    assert build_parser().parse_args(["lab", "--lang", given]).lang == expected


def test_lang_option_rejects_other_languages(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["lab", "--lang", "fr"])
    assert "choose one of en, zh" in capsys.readouterr().err


def test_chinese_settings_live_in_the_environment_and_leave_the_default_alone():
    from jupyterlab.commands import get_app_dir

    default = Path(get_app_dir()) / "settings"
    before = sorted(default.rglob("*")) if default.exists() else None
    folder = language_settings_dir("zh_CN")
    assert folder.is_relative_to(sys.prefix) and folder.parent == default.parent
    overrides = json.loads((folder / "overrides.json").read_text(encoding="utf-8"))
    assert overrides[TRANSLATION_PLUGIN]["locale"] == "zh_CN"
    assert (sorted(default.rglob("*")) if default.exists() else None) == before


def test_chinese_falls_back_to_english_notebooks_until_released():
    folder, own = notebooks_folder("zh")
    assert (folder, own) == ((NOTEBOOKS / "zh", True) if (NOTEBOOKS / "zh").is_dir() else (NOTEBOOKS, False))
    assert notebooks_folder("en") == (NOTEBOOKS, True)


@pytest.mark.parametrize(("make_args", "environ_lang", "expected"), [
    ([], "C.UTF-8", "opsbook lab"),
    (["LANG=zh"], "C.UTF-8", "opsbook lab --lang zh"),
    ([], "zh_CN.UTF-8", "opsbook lab"),  # the system locale is not a course language
    (["LAB_ARGS=--ip 0.0.0.0"], "C.UTF-8", "opsbook lab --ip 0.0.0.0"),
    (["progress", "LANG=zh"], "C.UTF-8", "opsbook progress --lang zh"),
    (["progress"], "zh_CN.UTF-8", "opsbook progress"),
])
def test_make_lab_passes_the_course_language(make_args, environ_lang, expected):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    target = [] if make_args[:1] == ["progress"] else ["lab"]
    run = subprocess.run(["make", "-n", "-o", ".venv/.installed", *target, *make_args], cwd=ROOT, capture_output=True,
                         text=True, env={**env, "LANG": environ_lang}, check=True)
    assert " ".join(run.stdout.split()).endswith(expected), run.stdout


def test_extension_settings_stay_inside_the_environment():
    for command in extension_commands():
        assert command[:3] == [sys.executable, "-m", "jupyter"]
        assert "--level=sys_prefix" in command or "--sys-prefix" in command


def test_configured_lab_has_validate_and_no_instructor_panels():
    configure_extensions()
    assert extensions_configured()
    listing = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"], capture_output=True,
                             text=True, check=True)
    disabled = (listing.stdout + listing.stderr).partition("Disabled extensions:")[2]
    assert all(plugin in disabled for plugin in LAB_PLUGINS_OFF)
    assert not any(plugin in disabled for plugin in LAB_PLUGINS_ON)


@pytest.mark.slow
def test_jupyterlab_starts_on_loopback_with_learner_extensions(tmp_path):
    configure_extensions()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [*lab_command(port, browser=False, allow_root=os.geteuid() == 0), "--IdentityProvider.token=opsbook-test"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = _get(f"http://127.0.0.1:{port}/lab?token=opsbook-test", deadline=time.monotonic() + 120)
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page, re.S).group(1))
        assert set(LAB_PLUGINS_OFF) <= set(config["disabledExtensions"]), config["disabledExtensions"]
        assert not any(p in config["disabledExtensions"] for p in LAB_PLUGINS_ON)
        assert config["serverRoot"] == str(NOTEBOOKS)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(url: str, deadline: float) -> str:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)

"""``opsbook lab``: the command it runs, nbgrader's learner extensions, and a real server on loopback."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from opsbook.lab import (
    LAB_PLUGINS_OFF,
    LAB_PLUGINS_ON,
    configure_extensions,
    extension_commands,
    extensions_configured,
    lab_command,
)
from opsbook.paths import NOTEBOOKS, ROOT


def test_lab_command_serves_notebooks_folder():
    assert lab_command() == [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={NOTEBOOKS}"]
    assert lab_command(port=8899, browser=False)[-2:] == ["--ServerApp.port=8899", "--no-browser"]


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
    command = [*lab_command(port, browser=False), "--ServerApp.ip=127.0.0.1", "--IdentityProvider.token=opsbook-test"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
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

"""``opsbook lab``: check the default world, set up nbgrader's learner extensions, open JupyterLab.

Learners get nbgrader's Validate button and none of the instructor or exchange
panels. The settings are written at ``sys_prefix`` level, so they live inside
``.venv`` and nothing in the user's home changes. JupyterLab runs from the
repository root (where nbgrader finds ``nbgrader_config.py``, so Validate
grades with the course's rules) and shows ``notebooks/``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from opsbook.paths import NOTEBOOKS, ROOT

LAB_PLUGINS_OFF = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:assignment-list",
                   "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment")
LAB_PLUGINS_ON = ("@jupyter/nbgrader:validate-assignment",)
SERVER_EXTENSIONS_OFF = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.assignment_list",
                         "nbgrader.server_extensions.course_list")
SERVER_EXTENSIONS_ON = ("nbgrader.server_extensions.validate_assignment",)


def extension_commands() -> list[list[str]]:
    """The ``jupyter`` commands that give learners the Validate button and nothing else from nbgrader."""
    jupyter = [sys.executable, "-m", "jupyter"]
    return [
        [*jupyter, "labextension", "disable", "--level=sys_prefix", *LAB_PLUGINS_OFF],
        [*jupyter, "labextension", "enable", "--level=sys_prefix", *LAB_PLUGINS_ON],
        [*jupyter, "server", "extension", "disable", "--sys-prefix", *SERVER_EXTENSIONS_OFF],
        [*jupyter, "server", "extension", "enable", "--sys-prefix", *SERVER_EXTENSIONS_ON],
    ]


def lab_command(port: int | None = None, browser: bool = True) -> list[str]:
    """The command that opens JupyterLab on ``notebooks/`` (run it from the repository root)."""
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={NOTEBOOKS}"]
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if not browser:
        command.append("--no-browser")
    return command


def extensions_configured() -> bool:
    """Whether JupyterLab's settings already match ``extension_commands``."""
    from jupyter_core.paths import jupyter_config_path
    from jupyter_server.extension.config import ExtensionConfigManager
    from jupyterlab_server.config import get_static_page_config

    disabled = get_static_page_config(level="all").get("disabledExtensions", {})
    server = ExtensionConfigManager(read_config_path=jupyter_config_path())
    return (all(disabled.get(p) for p in LAB_PLUGINS_OFF) and not any(disabled.get(p) for p in LAB_PLUGINS_ON)
            and not any(server.enabled(m) for m in SERVER_EXTENSIONS_OFF)
            and all(server.enabled(m) for m in SERVER_EXTENSIONS_ON))


def configure_extensions() -> bool:
    """Run ``extension_commands`` unless already configured; True if it changed anything.

    Raises ``CalledProcessError`` carrying jupyter's output when a command fails.
    """
    if extensions_configured():
        return False
    for command in extension_commands():
        subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return True


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook lab``."""
    lab = subparsers.add_parser("lab", help="check the default world and open JupyterLab on notebooks/")
    lab.add_argument("--port", type=int, help="port to serve on (default: JupyterLab's)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser")
    lab.set_defaults(func=_lab)


def _lab(args: argparse.Namespace) -> int:
    from opsbook.data import DEFAULT_DATA_DIR
    from opsbook.world.validate import WorldValidationError, check_world

    try:
        check_world(DEFAULT_DATA_DIR)
    except WorldValidationError as exc:
        print(f"{exc}\nRun `make data` to regenerate the default world.", file=sys.stderr)
        return 1
    try:
        configure_extensions()
    except subprocess.CalledProcessError as exc:
        print(f"Could not set up nbgrader's extensions:\n{exc.stdout}{exc.stderr}", file=sys.stderr)
        return 1
    print(f"World OK. Opening JupyterLab on {Path(NOTEBOOKS).relative_to(ROOT)}/ (Ctrl-C to stop).", flush=True)
    try:
        return subprocess.call(lab_command(args.port, not args.no_browser), cwd=ROOT)
    except KeyboardInterrupt:
        return 0

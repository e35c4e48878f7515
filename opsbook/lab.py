"""``opsbook lab``: check the default world, set up nbgrader's learner extensions, open JupyterLab.

Learners get nbgrader's Validate button and none of the instructor or exchange
panels. Every setting is written at ``sys_prefix`` level, so it lives inside
``.venv`` and nothing in the user's home changes. JupyterLab runs from the
repository root (where nbgrader finds ``nbgrader_config.py``, so Validate
grades with the course's rules) and shows ``notebooks/`` (``notebooks/zh/`` in
Chinese).

It starts whoever runs it, wherever: as root (containers, cloud VMs, CI) it says
so in one line and passes ``--allow-root``; without a display it opens no
browser and prints the URL to open, token included, once the server answers.
The server listens on 127.0.0.1 unless ``--ip`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from opsbook import language
from opsbook.paths import NOTEBOOKS, ROOT, shown

LAB_PLUGINS_OFF = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:assignment-list",
                   "@jupyter/nbgrader:course-list", "@jupyter/nbgrader:create-assignment")
LAB_PLUGINS_ON = ("@jupyter/nbgrader:validate-assignment",)
SERVER_EXTENSIONS_OFF = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.assignment_list",
                         "nbgrader.server_extensions.course_list")
SERVER_EXTENSIONS_ON = ("nbgrader.server_extensions.validate_assignment",)

LOOPBACK = "127.0.0.1"
LOCALES = {"en": None, "zh": "zh_CN"}
"""JupyterLab's interface locale per course language (None: JupyterLab's default, English)."""
TRANSLATION_PLUGIN = "@jupyterlab/translation-extension:plugin"
READY_TIMEOUT = 180.0
"""Seconds to wait for the server's first answer before giving up on printing its URL (it keeps running)."""

MESSAGES = {
    "root": {
        "en": "Running as root (usual in containers, cloud notebooks and CI), so JupyterLab starts with --allow-root; "
              "it listens on {where} and asks for a token. On a shared machine, run it as your own user instead.",
        "zh": "正在以 root 身份运行（容器、云笔记本和 CI 中很常见），因此以 --allow-root 启动 JupyterLab；"
              "它{where}，并需要令牌才能访问。在多人共用的机器上，请改用你自己的用户运行。",
    },
    "no_zh_notebooks": {
        "en": "Note: the Chinese notebooks ({folder}/) are not released yet; JupyterLab is in Chinese, "
              "the notebooks are the English ones in {fallback}/.",
        "zh": "提示：中文版笔记本（{folder}/）尚未发布；界面为中文，笔记本暂用 {fallback}/ 中的英文版。",
    },
    "user_locale": {
        "en": "Note: JupyterLab's Settings → Language menu chose '{chosen}' earlier ({file}) and wins over --lang; "
              "pick the language in that menu to change it.",
        "zh": "提示：你之前在 JupyterLab 的 设置 → 语言 菜单中选择了 '{chosen}'（{file}），它优先于 --lang；"
              "请在该菜单中切换语言。",
    },
    "bad_world": {
        "en": "{error}\nRun `make data` to regenerate the default world.",
        "zh": "{error}\n运行 `make data` 重新生成默认数据世界。",
    },
    "no_extensions": {
        "en": "Could not set up nbgrader's extensions:\n{output}",
        "zh": "无法设置 nbgrader 的扩展：\n{output}",
    },
    "opening": {
        "en": "World OK. Opening JupyterLab on {folder}/ (Ctrl-C to stop).",
        "zh": "数据检查通过。正在打开 JupyterLab，目录 {folder}/（按 Ctrl-C 停止）。",
    },
    "ready_browser": {
        "en": "JupyterLab is ready; your browser should open it, otherwise open {url}",
        "zh": "JupyterLab 已就绪；浏览器应会自动打开，否则请打开 {url}",
    },
    "ready_no_display": {
        "en": "JupyterLab is ready; no display here, so open this URL in a browser on this machine "
              "(or through an SSH tunnel to it): {url}",
        "zh": "JupyterLab 已就绪；此处没有图形界面，请在本机浏览器（或通过 SSH 隧道）打开：{url}",
    },
    "ready_no_browser": {
        "en": "JupyterLab is ready (--no-browser); open this URL in a browser: {url}",
        "zh": "JupyterLab 已就绪（--no-browser）；请在浏览器中打开：{url}",
    },
}


def extension_commands() -> list[list[str]]:
    """The ``jupyter`` commands that give learners the Validate button and nothing else from nbgrader."""
    jupyter = [sys.executable, "-m", "jupyter"]
    return [
        [*jupyter, "labextension", "disable", "--level=sys_prefix", *LAB_PLUGINS_OFF],
        [*jupyter, "labextension", "enable", "--level=sys_prefix", *LAB_PLUGINS_ON],
        [*jupyter, "server", "extension", "disable", "--sys-prefix", *SERVER_EXTENSIONS_OFF],
        [*jupyter, "server", "extension", "enable", "--sys-prefix", *SERVER_EXTENSIONS_ON],
    ]


def lab_command(port: int | None = None, browser: bool = True, *, root_dir: Path = NOTEBOOKS,
                ip: str = LOOPBACK, allow_root: bool = False, app_settings_dir: Path | None = None) -> list[str]:
    """The command that opens JupyterLab on ``root_dir`` (run it from the repository root).

    ``python -m jupyterlab`` runs the server in the process it starts (no ``jupyter`` launcher in between),
    so the server's ``jpserver-<pid>.json`` carries the pid of that process.
    """
    command = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={root_dir}", f"--ServerApp.ip={ip}"]
    if port is not None:
        command.append(f"--ServerApp.port={port}")
    if app_settings_dir is not None:
        command.append(f"--LabApp.app_settings_dir={app_settings_dir}")
    if allow_root:
        command.append("--allow-root")
    if not browser:
        command.append("--no-browser")
    return command


def running_as_root() -> bool:
    """Whether this process runs as root (never on Windows)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def has_display(environ: dict[str, str] | None = None, platform: str = sys.platform) -> bool:
    """Whether a browser can open here: always on macOS and Windows; elsewhere with X11, Wayland or ``$BROWSER``.

    ``$BROWSER`` counts because remote editors (VS Code, Codespaces) set it to a helper that opens the
    page on the learner's own machine.
    """
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return True
    environ = os.environ if environ is None else environ
    return any(environ.get(name) for name in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER"))


def notebooks_folder(lang: str) -> tuple[Path, bool]:
    """The folder JupyterLab shows for ``lang`` and whether it is that language's own (False: fell back)."""
    if lang == "en":
        return NOTEBOOKS, True
    own = NOTEBOOKS / lang
    return (own, True) if own.is_dir() else (NOTEBOOKS, False)


def language_settings_dir(locale: str) -> Path:
    """JupyterLab's application settings for ``locale``, written inside the environment; returns the folder.

    JupyterLab reads setting overrides from its application settings folder
    (``<sys.prefix>/share/jupyter/lab/settings``). The default folder stays untouched, so an English
    lab started at the same time stays English: this one is a sibling, ``settings-<locale>``, holding
    what the default folder holds, with ``locale`` added to its ``overrides.json``.
    """
    import shutil

    from jupyterlab.commands import get_app_dir

    app_dir = Path(get_app_dir())
    default, target = app_dir / "settings", app_dir / f"settings-{locale}"
    target.mkdir(parents=True, exist_ok=True)
    overrides: dict = {}
    if default.is_dir():
        from jupyterlab_server.settings_utils import _get_overrides  # the reader JupyterLab itself uses

        overrides, _ = _get_overrides(str(default))
        shutil.copytree(default, target, dirs_exist_ok=True,
                        ignore=lambda folder, names: [n for n in names if n.startswith("overrides")])
    overrides.setdefault(TRANSLATION_PLUGIN, {})["locale"] = locale
    partial = target / f".overrides.json.{os.getpid()}"
    partial.write_text(json.dumps(overrides, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(partial, target / "overrides.json")  # atomic: a lab starting meanwhile reads old or new
    return target


def chosen_locale() -> tuple[str, Path] | None:
    """The locale a learner chose in JupyterLab's Language menu (a user setting, which beats overrides), if any."""
    from jupyterlab.commands import get_user_settings_dir

    path = Path(get_user_settings_dir(), *TRANSLATION_PLUGIN.split(":")).with_suffix(".jupyterlab-settings")
    try:
        import json5

        locale = json5.loads(path.read_text(encoding="utf-8")).get("locale")
    except (OSError, ValueError, AttributeError):
        return None
    return (locale, path) if isinstance(locale, str) else None


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


def wait_until_ready(server: subprocess.Popen, timeout: float = READY_TIMEOUT) -> dict | None:
    """The server's ``jpserver-<pid>.json`` once it answers HTTP; None if it exits or ``timeout`` passes first."""
    from jupyter_core.paths import jupyter_runtime_dir

    info_file = Path(jupyter_runtime_dir(), f"jpserver-{server.pid}.json")
    deadline = time.monotonic() + timeout
    while server.poll() is None and time.monotonic() < deadline:
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            with urllib.request.urlopen(f"{info['url'].rstrip('/')}/api", timeout=5):
                return info
        except (OSError, ValueError, KeyError):  # not written yet, half written, or not answering yet
            time.sleep(0.3)
    return None


def lab_url(info: dict) -> str:
    """The address of JupyterLab, with its token when the server uses one."""
    url = f"{info['url'].rstrip('/')}/lab"
    return f"{url}?token={info['token']}" if info.get("token") else url


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``opsbook lab``."""
    lab = subparsers.add_parser("lab", help="check the default world and open JupyterLab on notebooks/")
    lab.add_argument("--port", type=int, help="port to serve on (default: JupyterLab's, 8888 or the next free one)")
    lab.add_argument("--ip", default=LOOPBACK,
                     help=f"address to listen on (default: {LOOPBACK}; 0.0.0.0 to reach it from outside a container)")
    lab.add_argument("--no-browser", action="store_true", help="do not open a browser, print the URL to open")
    lab.add_argument("--lang", type=_language, default=language.get(),
                     help="course language: en or zh (JupyterLab in Chinese on notebooks/zh/); "
                          f"default from ${language.LANGUAGE_ENV} or en")
    lab.set_defaults(func=_lab)


def _language(value: str) -> str:
    code = value.strip().lower()[:2]  # zh, zh-CN, zh_CN.UTF-8 -> zh
    if code not in LOCALES:
        raise argparse.ArgumentTypeError(f"choose one of {', '.join(LOCALES)} (got {value!r})")
    return code


def _lab(args: argparse.Namespace) -> int:
    from opsbook.data import DEFAULT_DATA_DIR, edition_world
    from opsbook.world.validate import WorldValidationError, check_world

    language.set(args.lang)
    try:
        check_world(DEFAULT_DATA_DIR)
        edition_world(args.lang)  # the Chinese edition's world is made now, not in the learner's first cell
    except (WorldValidationError, ValueError, OSError) as exc:
        print(language.pick(MESSAGES["bad_world"], error=exc), file=sys.stderr)
        return 1
    try:
        configure_extensions()
    except subprocess.CalledProcessError as exc:
        print(language.pick(MESSAGES["no_extensions"], output=f"{exc.stdout}{exc.stderr}"), file=sys.stderr)
        return 1

    folder, own = notebooks_folder(args.lang)
    if not own:
        _say("no_zh_notebooks", folder=shown(NOTEBOOKS / args.lang), fallback=shown(folder))
    locale = LOCALES[args.lang]
    settings = language_settings_dir(locale) if locale else None
    chosen = chosen_locale() if locale else None
    if chosen and chosen[0] != locale:
        _say("user_locale", chosen=chosen[0], file=chosen[1])
    allow_root = running_as_root()
    if allow_root:
        everywhere = args.ip in ("", "0.0.0.0", "::")
        where = ({"en": "every address", "zh": "监听所有地址"} if everywhere
                 else {"en": "{ip} only", "zh": "只监听 {ip}"})
        _say("root", where=language.pick(where, ip=args.ip))
    display = has_display()
    browser = display and not args.no_browser

    env = {**os.environ, language.LANGUAGE_ENV: args.lang}  # the kernels' messages follow the course language
    command = lab_command(args.port, browser, root_dir=folder, ip=args.ip, allow_root=allow_root,
                          app_settings_dir=settings)
    _say("opening", folder=shown(folder))
    # The server runs in a session of its own: Ctrl-C and a closed terminal reach this process, which stops
    # the server with SIGTERM, Jupyter's clean shutdown (kernels included). Sent to the server directly,
    # Ctrl-C asks "Shutdown this Jupyter server (y/[n])?" in a terminal and, without one, skips the kernels.
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, preexec_fn=_die_with_parent())
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if sig}
    try:
        info = wait_until_ready(server)
        if info is not None:
            ready = "ready_browser" if browser else "ready_no_browser" if args.no_browser else "ready_no_display"
            _say(ready, url=lab_url(info))
        return server.wait()
    except (KeyboardInterrupt, _Stopped):
        return _shut_down(server)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stopped(Exception):
    """This process was asked to stop (SIGTERM, SIGHUP): stop the server cleanly first."""


def _stop(signum: int, frame: object) -> None:
    raise _Stopped(signum)


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, what makes the server get SIGTERM if this process dies without stopping it (SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child only calls it
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # already gone
            os.kill(os.getpid(), signal.SIGTERM)

    return die_with_parent


def _shut_down(server: subprocess.Popen) -> int:
    """Stop the server the way Jupyter expects (SIGTERM: it shuts its kernels down), then for good."""
    try:
        server.terminate()
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    except (KeyboardInterrupt, _Stopped):  # asked again: do not wait
        server.kill()
        server.wait()
    return 0


def _say(key: str, **fields: object) -> None:
    print(language.pick(MESSAGES[key], **fields), flush=True)

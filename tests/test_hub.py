"""The classroom end to end: JupyterHub on 127.0.0.1, real accounts, a real browser, the class workflow.

``opsbook.classroom.hub.start`` opens a classroom for a temporary copy of the course holding 01_metrics
(three students from a roster, an instructor; PAM login; LocalProcessSpawner; the exchange in a temporary
folder). In headless Chromium the instructor releases 01_metrics from the formgrader; one student logs
in, fetches it in the assignment list, puts the reference answers in through the Jupyter contents API of
their server and submits in the assignment list; two more log in and fetch and submit through their
servers' REST API, one with half the answers, one with none. The instructor collects in the formgrader;
``opsbook class grade`` grades on per-student worlds (``opsbook class worlds``, made first at the
generator's smallest size; each student's server is pointed at its own); ``opsbook class feedback``
writes the feedback and ``nbgrader release_feedback`` releases it; the first student fetches it in the
assignment list and reads their points, and no hidden test, in the browser. ``stop`` must then leave no
account, process, group, exchange or changed permission.
The whole test has a budget of 5 minutes. It needs root (accounts, the grading sandbox).
"""

from __future__ import annotations

import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from browser import Deadline, chromium, new_page, require_chromium, screenshots_on_failure

from opsbook.paths import ROOT, SOLUTIONS

ASSIGNMENT = "01_metrics"
BUDGET = 300
BIN = Path(sys.executable).parent


# ----------------------------------------------------------------------------- fast: the pieces
def test_the_roster_gives_linux_accounts_and_passwords(tmp_path):
    from opsbook.classroom.hub import ClassroomError, read_roster

    roster = tmp_path / "students.csv"
    roster.write_text("id,first_name,last_name,email,password\nana,A,L,a@x,secret-1\nben,B,W,b@x,\n")
    ana, ben, teacher = read_roster(roster, "lee")
    assert (ana.name, ana.role, ana.password) == ("ana", "student", "secret-1")
    assert ben.password and ben.password != ana.password and (teacher.name, teacher.role) == ("lee", "instructor")
    for text, why in (("id\nAna\n", "Linux user names"), ("id\nana\nana\n", "twice"), ("id\nlee\n", "twice"),
                      ("id,password\nana,a:b\n", "':'"), ("name\nana\n", "no student")):
        roster.write_text(text)
        with pytest.raises(ClassroomError, match=why):
            read_roster(roster, "lee")


def test_each_role_gets_its_settings_and_the_hub_its_configuration(tmp_path):
    from types import SimpleNamespace

    from traitlets.config import Config

    from opsbook.classroom.hub import PROXY, configure, pre_spawn

    record = tmp_path / "classroom.json"
    settings = {"ip": "127.0.0.1", "port": 8000, "hub_port": 8081, "api_port": 8001, "instructor": "lee",
                "students": ["ana", "ben"], "course": "/srv/course", "worlds": "/srv/worlds"}
    record.write_text(json.dumps(settings))
    c = Config()
    configure(c, str(record))
    assert c.JupyterHub.authenticator_class == "pam" and c.JupyterHub.spawner_class == "localprocess"
    assert c.Authenticator.allowed_users == {"ana", "ben", "lee"} and c.Authenticator.admin_users == {"lee"}
    assert c.JupyterHub.bind_url == "http://127.0.0.1:8000" and c.ConfigurableHTTPProxy.command == [str(PROXY)]
    student = SimpleNamespace(user=SimpleNamespace(name="ana"), environment={"A": "1"}, notebook_dir="")
    teacher = SimpleNamespace(user=SimpleNamespace(name="lee"), environment={}, notebook_dir="")
    for spawner in (student, teacher):
        pre_spawn(settings, "/state/roles", spawner)
    assert student.environment["OPSBOOK_DATA_DIR"] == "/srv/worlds/ana" and student.environment["A"] == "1"
    assert student.environment["JUPYTER_CONFIG_PATH"] == "/state/roles/student" and not student.notebook_dir
    assert teacher.environment["JUPYTER_CONFIG_PATH"] == "/state/roles/instructor"
    assert teacher.notebook_dir == "/srv/course" and "OPSBOOK_DATA_DIR" not in teacher.environment


def test_stop_without_a_classroom_says_so(tmp_path):
    from opsbook.classroom.hub import stop

    assert stop(tmp_path / "none") == [f"no classroom is set up from {tmp_path / 'none'}"]


# ----------------------------------------------------------------------------- the classroom end to end
def _require_classroom() -> None:
    from opsbook.classroom.hub import PROXY
    from opsbook.grading.sandbox import unavailable_reason

    if os.geteuid() != 0:
        pytest.skip("the classroom creates Linux accounts: root only (CI is root)")
    if not PROXY.is_file():
        if shutil.which("npm"):
            pytest.fail(f"configurable-http-proxy is missing at {PROXY} although npm is here: run `make test`, "
                        "which installs it from package-lock.json")
        pytest.skip("npm is missing, so JupyterHub's proxy cannot be installed (apt-get install npm)")
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"grading needs the bwrap sandbox: {reason}")
    require_chromium()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _modes(paths: list[Path]) -> dict[str, tuple[int, int]]:
    return {str(p): (stat.S_IMODE(p.stat().st_mode), p.stat().st_gid) for p in paths if p.exists()}


def _hidden_lines(source: Path) -> set[str]:
    """Distinctive lines of the notebook's hidden tests (what feedback must never show)."""
    from opsbook.grading.markers import visible_part

    lines = set()
    for cell in nbformat.read(source, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            shown = {line.strip() for line in visible_part(cell.source).splitlines()}
            lines |= {line.strip() for line in cell.source.splitlines()
                      if len(line.strip()) > 24 and line.strip() not in shown and "HIDDEN TESTS" not in line}
    return lines


class Hub:
    """The classroom's URL and a browser page per account, with the calls the test makes."""

    def __init__(self, url: str, browser, deadline: Deadline):
        self.url, self.browser, self.deadline = url, browser, deadline

    def login(self, name: str, password: str, lab: bool):
        page = new_page(self.browser, timeout=self.deadline.left(180))
        page.goto(f"{self.url}/hub/login" + ("" if lab else "?next=/hub/home"))
        page.fill("#username_input", name)
        page.fill("#password_input", password)
        page.click("#login_submit")
        if lab:
            page.wait_for_url(re.compile(rf".*/user/{name}/lab.*"), timeout=self.deadline.left(180) * 1000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for()
        else:
            page.wait_for_url(re.compile(r".*/hub/home.*"))
        return page

    def token(self, page, name: str) -> str:
        """An API token for ``name``, asked of the hub with the page's login cookie."""
        xsrf = next(c["value"] for c in page.context.cookies() if c["name"] == "_xsrf" and c["path"] == "/hub/")
        answer = page.request.post(f"{self.url}/hub/api/users/{name}/tokens", headers={"X-XSRFToken": xsrf},
                                   data={"note": "hub test", "expires_in": BUDGET})
        assert answer.ok, answer.text()
        return answer.json()["token"]

    def api(self, page, token: str, method: str, path: str, **kw) -> dict | list:
        answer = page.request.fetch(f"{self.url}{path}", method=method,
                                    headers={"Authorization": f"token {token}"}, **kw)
        assert answer.ok, f"{method} {path}: {answer.status} {answer.text()[:500]}"
        return answer.json() if answer.text() else {}

    def start_server(self, page, name: str, token: str) -> None:
        page.request.post(f"{self.url}/hub/api/users/{name}/server", headers={"Authorization": f"token {token}"})
        end = time.monotonic() + self.deadline.left(180)
        while not self.api(page, token, "GET", f"/hub/api/users/{name}")["servers"].get("", {}).get("ready"):
            assert time.monotonic() < end, f"{name}'s server did not start"
            time.sleep(1)

    def put_answers(self, page, name: str, token: str, code: dict[str, str]) -> None:
        """Write answers into the fetched notebook through the Jupyter contents API of ``name``'s server."""
        from opsbook.course.contracts import splice

        path = f"/user/{name}/api/contents/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        model = self.api(page, token, "GET", path)
        nb = splice(nbformat.from_dict(model["content"]), code)
        self.api(page, token, "PUT", path, data={"type": "notebook", "format": "json", "content": nb})


def _server_environment(uid: int) -> dict[str, str]:
    """The environment of the single-user server running as ``uid``."""
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.stat().st_uid == uid and b"singleuser" in (proc / "cmdline").read_bytes():
                pairs = (proc / "environ").read_bytes().decode(errors="replace").split("\0")
                return dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        except OSError:
            continue
    raise AssertionError(f"no single-user server runs as uid {uid}")


def _menu(page) -> list[str]:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    items = [text for text in page.locator(".lm-Menu-itemLabel").all_inner_texts() if text.strip()]
    page.keyboard.press("Escape")
    return items


def _click_in_formgrader(page, column: str, success: str, deadline: Deadline) -> None:
    page.locator("tr", has_text=ASSIGNMENT).locator(f".{column} a").click()
    page.get_by_text(success).wait_for(timeout=deadline.left(120) * 1000)


@pytest.mark.hub
@pytest.mark.browser
@pytest.mark.slow
def test_a_class_on_the_hub_from_release_to_feedback(grading_cache, tmp_path):
    from opsbook.classroom.course import State
    from opsbook.classroom.hub import Classroom, start, stop
    from opsbook.course.contracts import answer_cells, solution_code
    from opsbook.grading.nbcourse import prepare_course, write_plain_config
    from opsbook.world.config import ACCEPTED

    _require_classroom()
    began = time.monotonic()
    deadline = Deadline(BUDGET)
    base = Path(tempfile.mkdtemp(prefix="ob-hub-", dir="/tmp"))   # reachable by the accounts (tmp_path is not)
    os.chmod(base, 0o711)
    course = Path(shutil.copytree(prepare_course(SOLUTIONS / ASSIGNMENT, grading_cache), base / "course"))
    write_plain_config(course, f"c.NbGrader.logfile = {str(course / 'nbgrader.log')!r}\n")
    tag = secrets.token_hex(2)
    ana, ben, cy, teacher = (f"obt{tag}_{n}" for n in ("ana", "ben", "cy", "teacher"))
    roster = base / "students.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "first_name", "last_name", "email", "password"])
        for name in (ana, ben, cy):
            writer.writerow([name, name, "Test", f"{name}@example.edu", secrets.token_urlsafe(9)])
    worlds = base / "worlds"
    made = subprocess.run([str(BIN / "opsbook"), "class", "worlds", "--students", str(roster), "--out", str(worlds),
                           "--users", str(ACCEPTED["n_users"][0]), "--salt", "hub-test", "--no-progress"],
                          capture_output=True, text=True, timeout=deadline.left(150))
    assert made.returncode == 0, made.stderr[-2000:]
    guarded = [ROOT / "solutions", ROOT / ".git", ROOT, course, worlds, worlds / "worlds.json", worlds / "_instructor",
               *Path(sys.base_prefix).resolve().parents]
    before = _modes(guarded)
    room = Classroom(roster, teacher, course, worlds, "127.0.0.1", _free_port(), base / "state", base / "exchange",
                     f"obt{tag}-instructors")   # a group of its own: another classroom may run beside it
    source = nbformat.read(SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    reference = solution_code(source)
    checks = answer_cells(source)
    half = dict(list(reference.items())[:4])
    points = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in source.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    try:
        accounts = {a.name: a for a in start(room, timeout=deadline.left(120))}
        assert set(accounts) == {ana, ben, cy, teacher} and accounts[teacher].role == "instructor"
        uids = {pwd.getpwnam(name).pw_uid for name in accounts}
        for path, readable in ((ROOT / "solutions" / ASSIGNMENT / "contracts.yml", False),
                               (course / "gradebook.db", False), (worlds / "worlds.json", False),
                               (worlds / "_instructor" / f"{ben}.answer_key.json", False),
                               (worlds / ana / "world.json", True),
                               (ROOT / "notebooks" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", True)):
            read = subprocess.run(["runuser", "-u", ana, "--", "cat", str(path)], capture_output=True)
            assert (read.returncode == 0) == readable, f"{ana} {'cannot' if readable else 'can'} read {path}"
        hub = Hub(room.url, None, deadline)
        with chromium(tmp_path) as browser:
            hub.browser = browser
            instructor = hub.login(teacher, accounts[teacher].password, lab=True)
            with screenshots_on_failure(instructor, tmp_path, "instructor"):
                assert "Formgrader" in _menu(instructor)
                instructor.goto(f"{room.url}/user/{teacher}/formgrader/manage_assignments")
                _click_in_formgrader(instructor, "release", f"Successfully released '{ASSIGNMENT}'", deadline)

            page = hub.login(ana, accounts[ana].password, lab=True)
            with screenshots_on_failure(page, tmp_path, "student"):
                assert _menu(page) == ["Assignment List"], "students get the assignment list, not the formgrader"
                env = _server_environment(pwd.getpwnam(ana).pw_uid)
                assert env["OPSBOOK_DATA_DIR"] == str(worlds.resolve() / ana), "the server reads the student's world"
                assert env["JUPYTER_CONFIG_PATH"].endswith("/roles/student")
                token = hub.token(page, ana)
                page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
                page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
                page.locator("#released_assignments_list").get_by_role("button", name="Fetch").click()
                page.locator("#fetched_assignments_list").get_by_text(ASSIGNMENT).first.wait_for()
                hub.put_answers(page, ana, token, reference)
                page.locator("#fetched_assignments_list").get_by_role("button", name="Submit").click()
                page.locator("#submitted_assignments_list").get_by_role("button", name="Fetch Feedback").wait_for()

            for name, code in ((ben, half), (cy, {})):
                other = hub.login(name, accounts[name].password, lab=False)
                other_token = hub.token(other, name)
                hub.start_server(other, name, other_token)
                form = {"course_id": "opsbook", "assignment_id": ASSIGNMENT}
                hub.api(other, other_token, "POST", f"/user/{name}/assignments/fetch", form=form)
                if code:
                    hub.put_answers(other, name, other_token, code)
                hub.api(other, other_token, "POST", f"/user/{name}/assignments/submit", form=form)
                assert other.request.get(f"{room.url}/user/{name}/formgrader/manage_assignments").status == 404
                other.context.close()

            with screenshots_on_failure(instructor, tmp_path, "instructor-collect"):
                instructor.reload()
                _click_in_formgrader(instructor, "collect", "Successfully collected", deadline)
            assert sorted(p.name for p in (course / "submitted").iterdir()) == sorted([ana, ben, cy])
            assert {p.stat().st_uid for p in (course / "submitted").rglob("*")} == {pwd.getpwnam(teacher).pw_uid}

            grade = subprocess.run([str(BIN / "opsbook"), "class", "grade", ASSIGNMENT, "--course", str(course),
                                    "--worlds", str(worlds), "--cell-timeout", "60", "--no-progress"],
                                   capture_output=True, text=True, timeout=deadline.left(200))
            assert grade.returncode == 0, grade.stdout[-2000:] + grade.stderr[-2000:]
            entries = State(course / "class_grading" / ASSIGNMENT / "state.jsonl").entries
            full = sum(points.values())
            partial = sum(points[check] for answer in half for check in checks[answer])
            assert {s: (e["status"], e["score"]) for s, e in entries.items()} == {
                ana: ("graded", full), ben: ("graded", partial), cy: ("graded", 0)}, grade.stdout
            for command in ([str(BIN / "opsbook"), "class", "feedback", ASSIGNMENT, "--course", str(course)],
                            [str(BIN / "nbgrader"), "release_feedback", ASSIGNMENT,
                             f"--Exchange.root={room.exchange}"]):
                done = subprocess.run(command, cwd=course, capture_output=True, text=True,
                                      timeout=deadline.left(120))
                assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

            with screenshots_on_failure(page, tmp_path, "feedback"):
                page.locator("#submitted_assignments_list").get_by_role("button", name="Fetch Feedback").click()
                page.locator("#submitted_assignments_list").get_by_text("(view feedback)").wait_for()
                folder = hub.api(page, token, "GET", f"/user/{ana}/api/contents/{ASSIGNMENT}/feedback")
                [stamp] = [entry["name"] for entry in folder["content"]]
                page.goto(f"{room.url}/user/{ana}/files/{ASSIGNMENT}/feedback/{stamp}/{ASSIGNMENT}.html")
                text = page.locator("body").inner_text()
            assert f"Score: {full:.1f} / {full:.1f}" in text, text[:500]
            shown = {line.strip() for line in text.splitlines()}
            release = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
            known = {line.strip() for code in [*reference.values(), *(cell.source for cell in release.cells)]
                     for line in code.splitlines()}   # what the student typed or was given
            leaks = (_hidden_lines(SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb") & shown) - known
            assert not leaks, f"the feedback shows hidden tests: {sorted(leaks)[:3]}"
    finally:
        done = stop(room.state)
        owners = {p.stat().st_uid for p in (course / "submitted").rglob("*")}
        after = _modes(guarded)
        shutil.rmtree(base, ignore_errors=True)
    for name in (ana, ben, cy, teacher):
        with pytest.raises(KeyError):
            pwd.getpwnam(name)
    with pytest.raises(KeyError):
        grp.getgrnam(room.group)
    survivors = subprocess.run(["ps", "-eo", "uid=,pid=,comm="], capture_output=True, text=True).stdout.splitlines()
    assert not [line for line in survivors if int(line.split()[0]) in uids], "a process of the class outlived it"
    assert not room.exchange.exists() and not room.state.exists(), done
    assert after == before, "every permission is as before"
    assert owners == {0}, "what the instructor collected belongs to root once the account is gone"
    print(f"\nhub end to end: {time.monotonic() - began:.0f} s", json.dumps(done))

"""The README's run command as a newcomer meets it: `shien serve --demo` started fresh, several times.

Each start gets an empty data folder (a new SQLite file); every demo account logs in and reloads its
home page, one of them writes (marks its inbox read) and reads it back through every worker; no
session may be lost and no answer may be a 5xx. The CPUs are kept busy meanwhile (on an idle machine
a start-up race often goes unseen). No server process (the gunicorn master, its workers, the task
worker) may hold a database file that was deleted (`/proc/<pid>/fd`), and the master holds none at
all: a connection opened before the fork would be shared by the workers. The same again while a
second process works on the file (`shien manage deliver_mail`). The demo's mail is kept readable in
the mailbox page, the address is printed only once the server listens, a task worker that dies is
started again, and stopping the server stops every process it started.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from shien.portal.management.commands.load_demo import DEMO_OWNER, DEMO_PASSWORD, DEMO_SECRETARIAT, DEMO_STAFF

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc (Linux)"),
    # the README's command runs on SQLite whatever DATABASE_URL the suite uses: once, in the SQLite pass
    pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="the SQLite pass runs it"),
]

STARTS = 3
RELOADS = 3
ACCOUNTS = [DEMO_OWNER, DEMO_SECRETARIAT, *(email for email, *_ in DEMO_STAFF)]
READY_LINE = "shien を起動しました"
SHIEN = "from shien.cli import main; raise SystemExit(main())"
START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(var_dir: Path) -> dict[str, str]:
    """A newcomer's shell: production settings, SQLite under a fresh data folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SHIEN_"))}
    for name in ("DATABASE_URL", "SITE_URL", "EMAIL_BACKEND", "DEBUG", "SECRET_KEY", "CACHE_URL"):
        env.pop(name, None)
    env["SHIEN_VAR_DIR"] = str(var_dir)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """One busy loop per core for the test's duration (each also stops by itself after 5 minutes)."""
    loop = "import time\nend = time.monotonic() + 300\nwhile time.monotonic() < end:\n    pass\n"
    hogs = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(os.cpu_count() or 2)]  # noqa: S603
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _open_files(pid: int) -> list[str]:
    files = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                files.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
            except OSError:
                continue
    except OSError:
        pass
    return files


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


class Server:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", SHIEN, "serve", "--demo", "--port", str(self.port), "--workers", "2"],
            env=_env(var_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # one process group: the safety net below ends it whole
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith(READY_LINE):
                self.ready.set()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not self.ready.wait(0.2):
            assert self.process.poll() is None, "\n".join(self.lines[-40:])
            assert time.monotonic() < deadline, "not ready in time:\n" + "\n".join(self.lines[-40:])

    def processes(self) -> dict[int, str]:
        """The master and every process under it (workers, the task worker)."""
        return {pid: _cmdline(pid) for pid in [self.process.pid, *_descendants(self.process.pid)]}

    def database_files(self, pid: int) -> list[str]:
        return [f for f in _open_files(pid) if f.startswith(str(self.var_dir / "shien.sqlite3"))]

    def stop(self) -> list[int]:
        """SIGTERM as a service manager (or Ctrl+C) does; returns what is still alive afterwards."""
        processes = list(self.processes())
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 10
        alive = processes
        while alive and time.monotonic() < deadline:
            alive = [p for p in processes if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
            time.sleep(0.1)
        return alive

    def kill_all(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


class Visits:
    """Counts what a person would notice: a reload sent back to the login page, a server error."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.lost: list[str] = []
        self.errors: list[str] = []
        self.sessions: dict[str, tuple[requests.Session, str]] = {}

    def get(self, session: requests.Session, path: str, who: str) -> requests.Response:
        response = session.get(self.base + path, timeout=60)
        for r in [*response.history, response]:
            if r.status_code >= 500:
                self.errors.append(f"{who} GET {path}: {r.status_code}")
        if "/accounts/login/" in response.url:
            self.lost.append(f"{who} GET {path}")
        return response

    def login(self, email: str) -> None:
        session = requests.Session()
        form = session.get(f"{self.base}/accounts/login/", timeout=60)
        assert form.status_code == 200, form.status_code
        response = session.post(
            f"{self.base}/accounts/login/",
            data={
                "username": email,
                "password": DEMO_PASSWORD,
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
            },
            timeout=60,
        )
        if response.status_code >= 500:
            self.errors.append(f"{email} login: {response.status_code}")
        assert "/accounts/login/" not in response.url, f"{email}: login refused ({response.status_code})"
        home = response.url.removeprefix(self.base)
        self.sessions[email] = (session, home)

    def reload_homes(self) -> None:
        for email, (session, home) in self.sessions.items():
            for _ in range(RELOADS):
                self.get(session, home, email)

    def write_and_read_back(self) -> None:
        """The applicant marks the inbox read; every later page, whichever worker answers, shows it."""
        session, _ = self.sessions[DEMO_OWNER]
        inbox = self.get(session, "/inbox/", DEMO_OWNER)
        assert inbox.status_code == 200
        response = session.post(
            f"{self.base}/inbox/read-all/",
            data={"csrfmiddlewaretoken": session.cookies["csrftoken"]},
            headers={"Referer": f"{self.base}/inbox/"},
            timeout=60,
        )
        if response.status_code >= 500:
            self.errors.append(f"read-all: {response.status_code}")
        for _ in range(2 * RELOADS):
            page = self.get(session, "/inbox/", DEMO_OWNER).text
            summary = re.search(r"未読 (\d+)件", page)
            assert summary is not None and summary.group(1) == "0", "a write was lost"


def _check_files(server: Server) -> dict[int, str]:
    processes = server.processes()
    for pid, cmdline in processes.items():
        deleted = [f for f in server.database_files(pid) if f.endswith("(deleted)")]
        assert not deleted, f"process {pid} ({cmdline}) holds a deleted database file: {deleted}"
    master_files = server.database_files(server.process.pid)
    assert not master_files, f"the gunicorn master holds the database open: {master_files}"
    return processes


def test_fresh_demo_starts_keep_every_login_and_write_with_busy_cpus(tmp_path: Path, busy_cpus: None) -> None:
    started = time.monotonic()
    static: Path | None = None
    for start in range(STARTS):
        var_dir = tmp_path / f"var{start}"
        var_dir.mkdir()
        if static is not None:  # the collected static files of the first start (no database in them)
            shutil.copytree(static, var_dir / "static")
        server = Server(var_dir)
        try:
            server.wait_ready()
            visits = Visits(server.url)
            assert visits.get(requests.Session(), "/", "anonymous").status_code == 200  # listening already
            for email in ACCOUNTS:
                visits.login(email)
            visits.reload_homes()
            visits.write_and_read_back()
            processes = _check_files(server)
            assert any("shien.web.server tasks" in c for c in processes.values()), processes

            # a second process on the same file while the server runs
            cron = subprocess.run(  # noqa: S603
                [sys.executable, "-c", SHIEN, "manage", "deliver_mail", "--older-than", "0"],
                env=_env(var_dir), capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert cron.returncode == 0, cron.stderr
            assert "未送信のメール" in cron.stdout
            visits.reload_homes()
            _check_files(server)
            assert not visits.lost and not visits.errors, (visits.lost, visits.errors)

            # the demo's mail: one readable line each, and decoded on the mailbox page
            mailbox = ""
            for _ in range(100):
                mailbox = requests.get(f"{server.url}/dev/mail/", timeout=60).text
                if mailbox.count("【shien】") >= 10:
                    break
                time.sleep(0.2)
            assert mailbox.count("【shien】") >= 10 and "=?utf-8?" not in mailbox
            output = "\n".join(server.lines)
            assert "=?utf-8?" not in output and "Content-Transfer-Encoding" not in output
            assert re.search(r"^メール: demo@shien\.example 【shien】", output, re.M)
            before_ready = output.split(READY_LINE)[0]
            assert "Listening at" in before_ready  # the address is printed once the server listens

            if start == STARTS - 1:  # a task worker that dies is started again
                worker = next(pid for pid, c in server.processes().items() if "shien.web.server tasks" in c)
                os.kill(worker, signal.SIGKILL)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    workers = [p for p, c in server.processes().items() if "shien.web.server tasks" in c]
                    if [p for p in workers if p != worker and _state(p) != "Z"]:
                        break
                    time.sleep(0.2)
                else:
                    pytest.fail("the task worker was not started again")

            alive = server.stop()
            assert not alive, {pid: _cmdline(pid) for pid in alive}  # no orphan (the task worker included)
            if static is None:
                static = var_dir / "static"
        finally:
            server.kill_all()
    assert time.monotonic() - started < 240


def test_the_terminal_says_it_is_preparing_during_the_set_up(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh start spends seconds (tens on a busy machine) migrating and loading the demo before the
    server listens: the terminal says so at once instead of staying blank, still without the address."""
    from shien.web import server

    for name in (server.DEMO_ENV, "SECURE_COOKIES"):  # serve(demo=True) sets them: put them back after
        monkeypatch.setenv(name, "")
    seen: list[str] = []

    def setup_child(command: list[str], check: bool) -> subprocess.CompletedProcess[str]:
        seen.append(capsys.readouterr().out)  # what the terminal shows while the set-up runs
        return subprocess.CompletedProcess(command, 1)

    monkeypatch.setattr(subprocess, "run", setup_child)
    with pytest.raises(SystemExit):
        server.serve(port=8000, workers=1, demo=True)
    assert seen == ["起動の準備をしています（データベースの更新とデモデータの読み込み）…\n"]
    assert "http://" not in seen[0] and READY_LINE not in seen[0]

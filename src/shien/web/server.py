"""`shien serve`: gunicorn with several worker processes on 127.0.0.1, and the task worker beside it.

Processes, in order:
1. set-up, a child process of its own: migrate, collectstatic (skipped when no static source changed),
   and with `--demo` the demo data. It exits before the server starts.
2. the gunicorn master, this process: imports the code and loads the rules once (`preload_app`), then
   forks the workers. It opens no database connection and starts no thread: a connection (or a thread
   holding one) that lived in the master would live on in every forked worker, where SQLite ends up
   writing to a journal file another process has already deleted (lost sessions and writes).
   Each worker opens its own connections after the fork.
3. the task worker (`shien manage db_worker`, django-tasks): the emails queued by the workers. The
   master starts it once the server listens, starts it again if it dies, and stops it when the server
   stops (Ctrl+C, SIGTERM). On Linux it also stops by itself if the master dies (even by SIGKILL).

The address (and in the demo the logins and the mailbox page) is printed once the server listens.
`python -m shien.web.server setup|tasks` are the child processes' entry points (internal).
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter

DEMO_ENV = "SHIEN_DEMO"  # read by the settings too (the development mailbox)
PARENT_ENV = "SHIEN_SERVER_PID"
RESTART_PAUSE = 5.0  # seconds between two starts of a task worker that keeps dying


def is_demo() -> bool:
    return os.environ.get(DEMO_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _child_command(role: str) -> list[str]:
    return [sys.executable, "-m", "shien.web.server", role]


class TaskWorker:
    """The task worker process, as seen from the master."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0

    def keep_running(self, log: Any) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                return
            if time.monotonic() - self.started < RESTART_PAUSE:
                return  # dying at once: try again a little later, not in a tight loop
            log.warning("タスクワーカー（メール送信）が終了したため、起動し直します")
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        self.process = subprocess.Popen(_child_command("tasks"), env=env)  # noqa: S603
        self.started = time.monotonic()

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # finishes the email it is sending, then exits
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class _Arbiter(Arbiter):  # type: ignore[misc]
    def manage_workers(self) -> None:  # the master's loop, about once a second
        super().manage_workers()
        if os.getpid() == self.pid:
            self.app.tasks.keep_running(self.log)


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any], address: tuple[str, int], demo: bool) -> None:
        self.options = options
        self.address = address
        self.demo = demo
        self.tasks = TaskWorker()
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        self.cfg.set("when_ready", self._when_ready)
        self.cfg.set("on_exit", self._on_exit)

    def load(self) -> Any:
        from django.db import connections

        from shien.web.wsgi import application

        connections.close_all()  # in case a caller opened one: none may outlive the fork into the workers
        return application

    def _when_ready(self, arbiter: Arbiter) -> None:  # listening: connections wait for the workers
        print(banner(*self.address, demo=self.demo), flush=True)

    def _on_exit(self, arbiter: Arbiter) -> None:
        self.tasks.stop()

    def run(self) -> None:
        master = os.getpid()
        try:
            _Arbiter(self).run()
        except RuntimeError as exc:
            print(f"\nError: {exc}\n", file=sys.stderr, flush=True)
            sys.exit(1)
        finally:
            if os.getpid() == master:  # a forked worker leaves through here too: it owns no task worker
                self.tasks.stop()


def banner(host: str, port: int, *, demo: bool) -> str:
    url = f"http://{host}:{port}/"
    lines = [f"shien を起動しました: {url}  （終了は Ctrl+C）"]
    if demo:
        from shien.portal.management.commands.load_demo import demo_logins

        lines.append(f"デモのログイン: {demo_logins()}")
        lines.append(f"送信されたメール（デモでは送信せずに保存）: {url}dev/mail/")
    return "\n".join(lines)


def serve(
    *, port: int, workers: int, host: str = "127.0.0.1", access_log: bool = True, demo: bool = False
) -> None:
    """Set up in a child process, then run gunicorn here (with the task worker beside it)."""
    if demo:
        os.environ[DEMO_ENV] = "1"
        # the demo is served on plain http://127.0.0.1: cookies marked Secure would not come back
        # from every browser (settings: SECURE_COOKIES)
        os.environ.setdefault("SECURE_COOKIES", "false")
    # the set-up takes seconds (tens on a fresh start on a busy machine): say so rather than stay silent;
    # no address yet, that comes once the server listens
    print(
        f"起動の準備をしています（データベースの更新{'とデモデータの読み込み' if demo else ''}）…", flush=True
    )
    setup = subprocess.run(_child_command("setup"), check=False)  # noqa: S603
    if setup.returncode != 0:
        print("起動前の準備（マイグレーションなど）に失敗しました", file=sys.stderr, flush=True)
        sys.exit(setup.returncode or 1)
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": max(1, workers),
            "preload_app": True,  # load the code and the rules registry once, before forking
            "accesslog": "-" if access_log else None,
            "timeout": 60,
            "control_socket_disable": True,  # no control thread (nor socket file) in the master
        },
        (host, port),
        demo,
    ).run()


# -- the child processes --------------------------------------------------------------------------


def _static_fingerprint() -> str:
    """What collectstatic's output depends on: every static source file (name, size, time), the
    storage and the versions of the libraries that write it."""
    import django
    import whitenoise
    from django.conf import settings
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256()
    config = (
        settings.STORAGES.get("staticfiles"),
        getattr(settings, "WHITENOISE_SKIP_COMPRESS_EXTENSIONS", None),
        django.__version__,
        getattr(whitenoise, "__version__", ""),
    )
    digest.update(repr(config).encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(["CVS", ".*", "*~"]):
            stat = os.stat(storage.path(path))
            entries.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}")
    digest.update("\n".join(sorted(entries)).encode())
    return digest.hexdigest()


def _collect_static() -> None:
    """collectstatic, unless nothing changed since the last run (it compresses every file again)."""
    from django.conf import settings
    from django.core.management import call_command

    root = Path(settings.STATIC_ROOT)
    stamp = root / ".shien-collected"
    fingerprint = _static_fingerprint()
    if stamp.is_file() and stamp.read_text() == fingerprint and (root / "staticfiles.json").is_file():
        return
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(fingerprint)


def _stop_with_parent() -> None:
    """The task worker ends when the master does, even when the master was killed (Linux)."""
    parent = int(os.environ.get(PARENT_ENV, "0") or 0)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:  # the master died before prctl took effect
        sys.exit(0)


def _child(role: str) -> int:
    if role == "tasks":
        _stop_with_parent()
    if is_demo():  # before anything derived from the registry is built
        from shien.rules import clock
        from shien.rules.demo import add_practice_rounds

        add_practice_rounds(clock.now())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shien.web.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if role == "setup":
        call_command("migrate", interactive=False, verbosity=0)
        _collect_static()
        if is_demo():  # quietly: the logins are printed once the server listens
            call_command("load_demo", stdout=io.StringIO())
        return 0
    if role == "tasks":
        call_command("db_worker", "--no-reload", "--interval", "1", "--no-startup-delay", verbosity=0)
        return 0
    print(f"unknown role: {role}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_child(sys.argv[1] if len(sys.argv) > 1 else ""))

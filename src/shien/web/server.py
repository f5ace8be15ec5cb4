"""`shien serve`: gunicorn with several worker processes on 127.0.0.1."""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from shien.web.wsgi import application

        return application


def serve(*, port: int, workers: int, host: str = "127.0.0.1", access_log: bool = True) -> None:
    from django.db import connections

    connections.close_all()  # migrate ran in this process: forked workers must not share its connection
    print(f"shien を起動しました: http://{host}:{port}/  （終了は Ctrl+C）", flush=True)
    _Server(
        {
            "bind": f"{host}:{port}",
            "workers": max(1, workers),
            "preload_app": True,  # load the rules registry once, before forking
            "accesslog": "-" if access_log else None,
            "timeout": 60,
        }
    ).run()

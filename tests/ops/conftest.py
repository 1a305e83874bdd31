"""The site as ``make run`` serves it, in real processes, and a database the test can cut.

* ``db_proxy``: a TCP proxy in front of this test's PostgreSQL; ``cut()`` drops every
  connection and refuses new ones (the database is down), ``restore()`` lets them in.
* ``serve``: starts ``bin/serve`` (the web server alone) or ``bin/run-dev`` (what
  ``make run`` starts: web, worker and beat) on a free port, pointed at this test's
  database; stops it, and every process it started, in teardown.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.notifications.conftest import (  # fixtures shared with the notification tests
    database_url,
    free_port,
    practitioner,
    private_redis,
    receptionist,
    smtp,
    smtp_server,
    treatment,
    wait_until,
)

__all__ = ["practitioner", "private_redis", "receptionist", "smtp", "smtp_server", "treatment"]

ROOT = Path(__file__).resolve().parents[2]


def _hear_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Proxy:
    target: tuple[str, int]
    port: int = field(default_factory=free_port)
    _listener: socket.socket | None = None
    _sockets: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            if self._listener is not None:
                self._listener.close()
                self._listener = None
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def db_proxy() -> Iterator[Proxy]:
    from django.db import connection

    settings_dict = connection.settings_dict
    proxy = Proxy(target=(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"] or 5432)))
    proxy.restore()
    yield proxy
    proxy.cut()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    port: int
    var_dir: Path
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, *, headers: dict[str, str] | None = None, timeout: float = 10) -> Response:
        return self.request("GET", path, headers=headers, timeout=timeout)

    def request(
        self, method: str, path: str, *, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 10
    ) -> Response:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, dict(error.headers), error.read())

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    started: list[Served] = []

    def start(script: str = "bin/serve", *, database: str | None = None, **env: str) -> Served:
        port = free_port()
        var_dir = tmp_path / f"var-{len(started)}"
        var_dir.mkdir()
        environment = {
            **os.environ,
            "PORT": str(port),
            "DEBUG": "1",  # as `make run` serves it: outages must still answer in the contract's shape
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CLINIC_VAR_DIR": str(var_dir),
            "DATABASE_URL": database or database_url(),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        log = var_dir / "serve.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(ROOT / script)],
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # As from a terminal: Ctrl-C is heard. A test run started in the background
                # (`make test &`, a CI step's subshell) inherits SIGINT ignored, and a shell
                # cannot trap a signal ignored when it started.
                preexec_fn=_hear_ctrl_c,
            )
        served = Served(process, port, var_dir, log)
        started.append(served)

        def answers() -> bool:
            assert process.poll() is None, served.output()[-3000:]
            try:
                return served.get("/healthz/", timeout=2).status == 200
            except OSError:
                return False

        wait_until(answers, timeout=60, what=f"{script} to answer")
        return served

    yield start
    for served in started:
        served.stop()

"""Start and stop the server processes a benchmark runs against (Daphne or uvicorn), and read their memory."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / "bench" / "logs"
APP = "bench.relay:application"  # ChatDesk's ASGI app plus the relay route


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    """Resident memory of one process, in KiB (VmRSS)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Server:
    kind: str  # daphne or uvicorn
    port: int
    env: dict
    proc: subprocess.Popen | None = None
    _log: object = field(default=None, repr=False)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        if self.kind == "daphne":
            # -v 0: no access-log line per socket (uvicorn: --no-access-log), as in production.
            # backlog=1024: Twisted's default listen queue is 50, so a reconnect storm
            # overflowed it and the kernel's SYN retries (1, 3, 7, 15, 31 s) set the pace.
            return [sys.executable, "-m", "daphne", "-v", "0",
                    "-e", f"tcp:port={self.port}:interface=127.0.0.1:backlog=1024", APP]
        if self.kind == "uvicorn":
            return [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port),
                    "--lifespan", "off", "--no-access-log", "--log-level", "warning",
                    "--loop", "uvloop", "--http", "httptools", "--ws", "websockets", APP]
        raise ValueError(self.kind)

    def start(self, timeout: float = 30) -> "Server":
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self._log = open(LOG_DIR / f"{self.kind}-{self.port}.log", "ab")
        self.proc = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early; see {LOG_DIR}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.kind} did not listen on {self.port}")

    def rss_kib(self) -> int:
        return rss_kib(self.proc.pid)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log:
            self._log.close()
            self._log = None


def start_servers(kind: str, count: int, env: dict) -> list[Server]:
    servers = []
    try:
        for _ in range(count):
            servers.append(Server(kind, free_port(), dict(env)).start())
    except Exception:
        for s in servers:
            s.stop()
        raise
    return servers


def stop_servers(servers) -> None:
    for s in servers:
        s.stop()

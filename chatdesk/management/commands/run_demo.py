"""`manage.py run_demo`: serve the demo with Daphne and run the Huey worker beside it, stopping both together."""
import os
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


def daphne_endpoint(host: str, port: int, backlog: int = 1024) -> str:
    """Daphne's listening endpoint with a listen queue fit for a reconnect storm.

    Daphne's `-b/-p` keep Twisted's default backlog of 50: when a network blip
    drops a thousand widgets and they all come back at once, the rest of the
    handshakes overflow the queue and wait out the kernel's SYN retries (1, 3,
    7, 15, 31 s). The kernel caps it at net.core.somaxconn.
    """
    host = host.replace(":", "\\:")  # an IPv6 address inside Twisted's endpoint syntax
    return f"tcp:port={port}:interface={host}:backlog={backlog}"


class Command(BaseCommand):
    help = "Run Daphne on 127.0.0.1:PORT and the Huey consumer until interrupted."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, **opts):
        env = dict(os.environ)
        procs = [
            subprocess.Popen([sys.executable, "manage.py", "run_huey", "--quiet"], env=env),
            subprocess.Popen(
                [sys.executable, "-m", "daphne", "-e", daphne_endpoint(opts["host"], opts["port"]),
                 "chatdesk.asgi:application"],
                env=env,
            ),
        ]
        try:
            while all(p.poll() is None for p in procs):
                try:
                    procs[1].wait(1)
                except subprocess.TimeoutExpired:
                    pass
        except KeyboardInterrupt:
            pass
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGINT)
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()

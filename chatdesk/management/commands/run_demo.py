"""`manage.py run_demo`: serve the demo with Daphne and run the Huey worker beside it, stopping both together."""
import os
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


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
                [sys.executable, "-m", "daphne", "-b", opts["host"], "-p", str(opts["port"]), "chatdesk.asgi:application"],
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

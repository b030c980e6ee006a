"""A few seconds of the websocket benchmark (bench/run.py --smoke), so that it keeps working: messages arrive."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(
        not (os.environ.get("REDIS_URL") and os.environ.get("DATABASE_URL")),
        reason="needs REDIS_URL and DATABASE_URL: the benchmark runs processes on PostgreSQL and Redis",
    ),
]


def _own_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return parts._replace(path=parts.path.rstrip("/") + "_bench_smoke").geturl()


def test_a_smoke_run_of_the_benchmark_delivers_every_message_on_chatdesk_and_the_relay(tmp_path):
    out = tmp_path / "smoke.json"
    prefix = os.environ.get("CHATDESK_LAYER_PREFIX", "chatdesk") + "_bench_smoke"
    proc = subprocess.run(
        [sys.executable, "bench/run.py", "--smoke", "--database-url", _own_database_url(),
         "--redis-url", os.environ["REDIS_URL"], "--prefix", prefix, "--no-flush-redis", "--drop-database",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads(out.read_text())["scenarios"]
    for system in ("chatdesk", "relay"):
        steady = results["steady"][system]
        assert steady["sent"] > 0
        assert steady["delivered"] == steady["sent"], steady
        assert steady["lost"] == 0 and steady["duplicated"] == 0
    assert results["steady"]["chatdesk"]["seq_check"]["gapped"] == 0
    for run in results["saturation"]["runs"]:
        assert run["steps"] and run["steps"][0]["delivered"] > 0, run

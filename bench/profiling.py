"""Sample a running server with py-spy and summarise where its time goes (self and inclusive, by function)."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path


def _py_spy() -> str:
    return shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))


def start(server, out_dir, name: str) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = out / f"{name}.collapsed.txt"
    proc = subprocess.Popen([_py_spy(), "record", "--pid", str(server.proc.pid), "--rate", "250", "--format", "raw",
                             "--output", str(raw), "--nonblocking", "--idle"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"proc": proc, "raw": raw, "name": name}


def stop(handle: dict) -> dict:
    proc = handle["proc"]
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
    summary = summarise(handle["raw"]) if handle["raw"].exists() else {}
    summary_path = handle["raw"].with_suffix("").with_suffix(".top.txt")
    summary_path.write_text(render(summary))
    return {"name": handle["name"], "collapsed": str(handle["raw"].name), "top": str(summary_path.name),
            "samples": summary.get("samples", 0)}


IDLE_FRAMES = ("select (", "epoll", "poll (", "_worker (concurrent", "wait (threading", "_bootstrap", "doPoll")


def summarise(raw: Path, top: int = 40) -> dict:
    """Self and inclusive sample counts per function from py-spy's collapsed stacks, idle waits excluded."""
    inclusive, self_, total, idle = Counter(), Counter(), 0, 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        leaf = frames[-1]
        # `_worker (` as a leaf is a pool thread blocked on its empty queue (the wait is in C).
        if any(k in leaf for k in ("select (", "epoll_wait", "poll (", "wait (threading", "_wait_for_tstate_lock",
                                   "_worker (")):
            idle += n
            continue
        total += n
        self_[_short(leaf)] += n
        for f in set(_short(f) for f in frames):
            inclusive[f] += n
    return {"samples": total, "idle_samples": idle, "self": self_.most_common(top), "inclusive": inclusive.most_common(top * 2)}


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = path.split("/")
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


def render(summary: dict) -> str:
    if not summary:
        return "no samples\n"
    total = max(summary["samples"], 1)
    lines = [f"busy samples: {summary['samples']}  (idle waits excluded: {summary['idle_samples']})", "",
             "self time (leaf functions):"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in summary["self"]]
    lines += ["", "inclusive time:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in summary["inclusive"]]
    return "\n".join(lines) + "\n"

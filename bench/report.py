"""Turn results.json into the markdown table and the PNG plots committed under bench/results/."""
from __future__ import annotations

import json
from pathlib import Path

TARGETS = {
    "idle_kb_per_socket": 50, "steady_p50_ms": 15, "steady_p99_ms": 100,
    "saturation_ratio": 0.6, "storm_seconds": 10, "console_state_ms": 300,
}


def _ok(flag) -> str:
    return "met" if flag else "**not met**"


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"# ChatDesk websocket benchmark, {results['date']}", "",
             f"Machine: {m['description']}", "",
             f"Command: `{results['command']}` ({results['wall_seconds']:.0f} s)", "",
             "Load average (1, 5, 15 min) during the run — the machine is shared with other work: "
             + ", ".join(f"{k} {tuple(round(x, 1) for x in v)}" for k, v in results.get("load", {}).items()), ""]
    s = results["scenarios"]
    lines += ["## Targets", "", "| # | scenario | target | ChatDesk | relay (same config) | verdict |",
              "| --- | --- | --- | --- | --- | --- |"]
    if "idle" in s:
        c, r = s["idle"]["chatdesk"], s["idle"].get("relay", {})
        lines.append(f"| 1 | idle {c['sockets']} shopper sockets, one Daphne | ≤ 50 KB/socket | {c['kb_per_socket']} KB | "
                     f"{r.get('kb_per_socket', '–')} KB | {_ok(c['kb_per_socket'] <= 50)} |")
    for key in [k for k in s if k.startswith("steady")]:
        c, r = s[key]["chatdesk"], s[key].get("relay", {})
        ok = c["p50_ms"] is not None and c["p50_ms"] <= 15 and c["p99_ms"] <= 100 and not c["lost"] and not c["duplicated"]
        gaps = c.get("seq_check", {}).get("gapped")
        lines.append(f"| 2 | steady {c['offered_per_s']:.0f} msg/s for {c['seconds']:.0f} s, {c['conversations']} conversations, "
                     f"{s[key]['config']} | p50 ≤ 15 ms, p99 ≤ 100 ms, 0 lost/dup | p50 {c['p50_ms']} ms, p99 {c['p99_ms']} ms "
                     f"(ack p50 {c['ack_p50_ms']} ms), {c['delivered']}/{c['sent']} delivered, lost {c['lost']}, dup {c['duplicated']}, "
                     f"refused {sum(c['refused'].values())}, gapped conversations {gaps} | "
                     f"p50 {r.get('p50_ms')} ms, p99 {r.get('p99_ms')} ms, lost {r.get('lost')} | {_ok(ok)} |")
    if "saturation" in s:
        sat = s["saturation"]
        for row in sat["ratios"]:
            lines.append(f"| 3 | saturation (p99 ≤ 250 ms), {row['config']} | ChatDesk ≥ 0.6 × relay | "
                         f"{row['chatdesk']:.0f} msg/s | {row['relay']:.0f} msg/s | ratio {row['ratio']:.2f}: "
                         f"{_ok(row['ratio'] >= 0.6)} |")
        f = sat.get("fastest_relay")
        if f and sat.get("chatdesk_best"):  # absent when one system was saturated alone (--system)
            lines.append(f"| 3 | ChatDesk best vs fastest relay ({f['config']}) | – | {sat['chatdesk_best']['rate']:.0f} msg/s "
                         f"({sat['chatdesk_best']['config']}) | {f['rate']:.0f} msg/s | ratio {sat['chatdesk_best']['rate'] / f['rate']:.2f} |  |")
    if "storm" in s:
        c = s["storm"]
        ok = c["all_resumed_seconds"] <= 10 and c["lost_messages"] == 0 and c["failed_reconnects"] == 0
        lines.append(f"| 4 | reconnect storm, {c['shoppers']} shoppers, {c['processes']} processes | all resumed ≤ 10 s, 0 lost | "
                     f"{c['all_resumed_seconds']} s (p50 {c['resume_p50_s']} s), every message seen at "
                     f"{c.get('all_messages_seen_seconds', '?')} s, lost {c['lost_messages']} of "
                     f"{c['messages_checked']}, failed {c['failed_reconnects']} | – | {_ok(ok)} |")
    if "console" in s:
        c = s["console"]
        lines.append(f"| 5 | console start, {c['queued']} queued | `state` ≤ 300 ms | median {c['state_ms_median']} ms, "
                     f"max {c['state_ms_max']} ms | – | {_ok(c['state_ms_max'] <= 300)} |")
    if "saturation" in s:
        lines += ["", "## Saturation steps", "",
                  "| system | config | offered/s | delivered/s | p50 ms | p99 ms | lost | refused |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for run in s["saturation"]["runs"]:
            for st in run["steps"]:
                lines.append(f"| {run['system']} | {run['config']} | {st['offered_per_s']:.0f} | {st['delivered_per_s']} | "
                             f"{st['p50_ms']} | {st['p99_ms']} | {st['lost']} | {sum(st['refused'].values())} |")
    lines += ["", "Plots: " + ", ".join(f"`{p}`" for p in results.get("plots", [])), ""]
    if results.get("notes"):
        lines += ["## Notes", ""] + [f"- {n}" for n in results["notes"]] + [""]
    return "\n".join(lines)


def plots(results: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    sat = results["scenarios"].get("saturation")
    if not sat:
        return made
    configs = sorted({r["config"] for r in sat["runs"]})
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for ax, metric in zip(axes, ("p50_ms", "p99_ms")):
        for run in sat["runs"]:
            xs = [st["offered_per_s"] for st in run["steps"]]
            ys = [st[metric] for st in run["steps"]]
            style = "-o" if run["system"] == "chatdesk" else "--s"
            ax.plot(xs, ys, style, label=f"{run['system']} · {run['config']}", markersize=4)
        ax.axhline(250 if metric == "p99_ms" else 15, color="grey", linewidth=0.8, linestyle=":")
        ax.set_xlabel("offered messages / s")
        ax.set_ylabel(f"delivery {metric.replace('_ms', '')} (ms)")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_title(f"delivery {metric.replace('_ms', '')} vs offered rate")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"ChatDesk vs bare Channels relay — {results['date']}, {results['machine']['short']}")
    fig.tight_layout()
    name = "latency_vs_rate.png"
    fig.savefig(out / name, dpi=110)
    plt.close(fig)
    made.append(name)
    for config in configs:
        runs = [r for r in sat["runs"] if r["config"] == config]
        if not any(r["system"] == "chatdesk" for r in runs):
            continue
        fig, ax = plt.subplots(figsize=(7, 5))
        for run in runs:
            xs = [st["offered_per_s"] for st in run["steps"]]
            for metric, style in (("p50_ms", "-o"), ("p99_ms", "--s")):
                ax.plot(xs, [st[metric] for st in run["steps"]], style, label=f"{run['system']} {metric[:3]}", markersize=4)
        ax.axhline(250, color="grey", linewidth=0.8, linestyle=":")
        ax.set_yscale("log")
        ax.set_xlabel("offered messages / s")
        ax.set_ylabel("delivery latency (ms)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax.set_title(f"ChatDesk vs relay, {config}")
        fig.tight_layout()
        name = f"latency_vs_rate_{config.replace('+', '_').replace(' ', '')}.png"
        fig.savefig(out / name, dpi=110)
        plt.close(fig)
        made.append(name)
    return made


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    results["plots"] = plots(results, out)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(markdown(results))

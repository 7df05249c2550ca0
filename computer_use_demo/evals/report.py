"""What a run found: ``aggregate.json`` (the counts, cost, steps and times) and ``report.html``
(a row per task, linking its replay and showing why it failed)."""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .runner import STATUSES, TaskResult

AGGREGATE = "aggregate.json"
REPORT = "report.html"


def aggregate(results: list[TaskResult], *, planned: int | None = None) -> dict[str, Any]:
    """The run in numbers. ``planned``: how many tasks the suite has (unfinished ones count
    as not run)."""
    counts = Counter(r.status for r in results)
    times = [r.time_s for r in results]
    priced = [r.cost_usd for r in results if r.cost_usd is not None]
    total = planned if planned is not None else len(results)
    overheads = [_overhead(r) for r in results if "agent_s" in r.timings]
    return {
        "tasks": total,
        "finished": len(results),
        "not_run": max(0, total - len(results)),
        **{status: counts.get(status, 0) for status in STATUSES},
        "pass_rate": round(counts.get("passed", 0) / total, 4) if total else 0.0,
        "cost_usd": round(sum(priced), 6),
        "cost_known": len(priced) == len(results),
        "steps": sum(r.steps for r in results),
        "time_s": {
            "total": round(sum(times), 3),
            "mean": round(statistics.fmean(times), 3) if times else 0.0,
            "median": round(statistics.median(times), 3) if times else 0.0,
            "max": round(max(times), 3) if times else 0.0,
        },
        "overhead_s_median": round(statistics.median(overheads), 3) if overheads else None,
        "per_task": [
            {
                "id": r.id,
                "status": r.status,
                "reason": r.reason,
                "steps": r.steps,
                "cost_usd": r.cost_usd,
                "time_s": r.time_s,
            }
            for r in sorted(results, key=lambda r: r.id)
        ],
    }


def _overhead(result: TaskResult) -> float:
    """The harness's own seconds in a task: all but the task's setup and the agent's run."""
    t = result.timings
    return max(0.0, result.time_s - t.get("setup_s", 0.0) - t.get("agent_s", 0.0))


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #ddd;padding:.4em;
text-align:left;vertical-align:top}th{background:#f4f4f4}.passed{color:#17692b}
.failed{color:#a31515}.timeout,.setup_failed{color:#a35a00}.error{color:#7a1fa2}
td.detail{font-size:12px;color:#555;max-width:40em;word-break:break-word}.n{text-align:right}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def render(results: list[TaskResult], summary: dict[str, Any], title: str) -> str:
    """The HTML report: the counts, then a row per task with its replay."""
    head = " · ".join(
        f'<span class="{s}">{_e(s.replace("_", " "))}: {summary[s]}</span>' for s in STATUSES
    )
    rows = []
    for r in sorted(results, key=lambda r: r.id):
        link = f'<a href="tasks/{_e(r.id)}/{_e(r.replay)}">replay</a>' if r.replay else ""
        cost = "" if r.cost_usd is None else f"${r.cost_usd:.4f}"
        rows.append(
            f'<tr><td>{_e(r.id)}</td><td class="{_e(r.status)}">{_e(r.status)}</td>'
            f"<td>{_e(r.reason)}</td><td class=n>{r.steps}</td><td class=n>{_e(cost)}</td>"
            f"<td class=n>{r.time_s:.1f}s</td><td>{link}</td>"
            f'<td class="detail">{_e(r.detail[:600])}</td></tr>'
        )
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p>{made} · {summary['finished']}/{summary['tasks']} tasks · "
        f"pass rate {summary['pass_rate']:.0%} · ${summary['cost_usd']:.4f} · "
        f"{summary['steps']} steps · {summary['time_s']['total']:.0f}s of task time</p>"
        f"<p>{head}</p><table><tr><th>task</th><th>status</th><th>ended</th><th>steps</th>"
        "<th>cost</th><th>time</th><th>replay</th><th>why</th></tr>\n"
        + "\n".join(rows)
        + "\n</table></body></html>\n"
    )


def write(out: Path, results: list[TaskResult], *, planned: int, title: str) -> dict[str, Any]:
    """Write aggregate.json and report.html into ``out``; the aggregate."""
    summary = aggregate(results, planned=planned)
    (out / AGGREGATE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out / REPORT).write_text(render(results, summary, title), encoding="utf-8")
    return summary

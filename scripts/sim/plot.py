"""One PNG timeline per run: backlog, concurrency, requests/s and 429/s, age against the SLA.

Four panels stacked on one time axis (minutes), one line per setting in the same colour in
every panel, so a reader can follow one setting down the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from sim.simulation import Result

LOG_TICKS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
COLOURS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")


def draw(results: Sequence[Result], path: Path) -> Path:
    """Write the timeline of `results` (all of one scenario) to `path`."""
    scenario = results[0].scenario
    figure, axes = plt.subplots(4, 1, figsize=(11, 10), sharex=True, constrained_layout=True)
    backlog, concurrency, rates, age = axes
    for colour, result in zip(COLOURS, results, strict=False):
        timeline = result.timeline
        minutes = [t / 60 for t in timeline.at]
        backlog.plot(minutes, timeline.backlog, color=colour, label=result.label)
        concurrency.plot(minutes, timeline.concurrency, color=colour, label=result.label)
        if result.changes:
            concurrency.step(
                minutes, timeline.maximum, where="post", color=colour, linestyle=":", linewidth=1
            )
        rates.plot(minutes, timeline.requests_per_second, color=colour, linewidth=1)
        rates.plot(
            minutes, timeline.throttled_per_second, color=colour, linewidth=1, linestyle="--"
        )
        age.plot(minutes, [a / 60 for a in timeline.oldest_age], color=colour)
    end = max((r.timeline.at[-1] for r in results if r.timeline.at), default=0.0) / 60
    changes = sorted(scenario.api.rate_changes, key=lambda c: c.at)
    limit_at = [0.0] + [c.at / 60 for c in changes] + [end]
    limits = [scenario.api.rate] + [c.rate for c in changes]
    rates.step(limit_at, [*limits, limits[-1]], where="post", color="black", linewidth=0.8)
    for outage in scenario.api.outages:
        for ax in axes:
            ax.axvspan(outage.start / 60, (outage.start + outage.duration) / 60, color="0.9")
    sla = scenario.sla_seconds / 60
    oldest = max((max(r.timeline.oldest_age, default=0.0) for r in results), default=0.0) / 60
    if oldest * 1.3 < sla:  # keep the ages readable; say where the SLA is
        age.set_ylim(0, max(oldest * 1.3, 1.0))
        age.set_title(f"SLA {sla:g} min: above this panel", loc="right", color="red", fontsize=9)
    else:
        age.axhline(sla, color="red", linewidth=1)
        age.text(0, sla, " SLA", color="red", va="bottom")
    concurrency.set_yscale("symlog", linthresh=10)
    rates.set_yscale("symlog", linthresh=10)
    backlog.set_ylabel("messages not yet done")
    concurrency.set_ylabel("concurrent invocations\n(dotted: governor's maximum)\nlog scale")
    rates.set_ylabel("requests/s (solid)\n429/s (dashed)\nlog scale")
    age.set_ylabel("oldest message age (min)")
    age.set_xlabel("minutes since the first arrival")
    backlog.legend(loc="upper right")
    backlog.set_title(
        f"{scenario.name}: {scenario.changes:,} changes, "
        f"API limit {scenario.api.rate:g} requests/s (black line)"
        + (" until it changes" if scenario.api.rate_changes else "")
    )
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    for ax in (concurrency, rates):
        top = ax.get_ylim()[1]
        ax.set_yticks([t for t in LOG_TICKS if t <= top * 1.05])
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path

"""The figures of ``run.py``: its Markdown tables, the targets and the README section."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from harness import Scenario
from memory import Memory
from report import machine_facts, preamble
from scenarios import (
    HTTPX_DICTS,
    LIB_SHARDED,
    LIB_TYPED,
    LIB_UNORDERED,
    RAW_DICTS,
    Listing,
    Sharded,
)

BEGIN_MARK = "<!-- figures:begin (written by benchmarks/run.py; edits here are overwritten) -->"
END_MARK = "<!-- figures:end -->"


@dataclass(frozen=True)
class Target:
    what: str
    figure: str
    goal: str
    met: bool | None  # None: not measured in this run


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def table(scenarios: Sequence[Scenario]) -> list[str]:
    """The figures as a Markdown table (readable as plain text too)."""
    rows = [
        "| Scenario | Workload | Client | Unit | Min | Median | Max | Ratio "
        "| Δ per request | Client CPU per request |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for sc in scenarios:
        raw_cpu = sc.cpu_us(sc.raw)
        for side in (sc.raw, sc.lib):
            rates = side.rates
            if side is sc.lib:
                paired = sc.paired_ratios
                ratio = f"**{sc.ratio:.3f}** ({min(paired):.3f} to {max(paired):.3f})"
                delta = f"{sc.delta_us:+.0f} µs"
                lib_cpu = sc.cpu_us(side)
                cpu = f"{lib_cpu:.0f} µs (x{lib_cpu / raw_cpu:.2f}, {lib_cpu - raw_cpu:+.0f} µs)"
            else:
                ratio, delta, cpu = "1 (base)", "", f"{raw_cpu:.0f} µs"
            rows.append(
                f"| {sc.key} {sc.title} | {sc.workload} | {side.name} | {sc.unit} | "
                f"{_fmt(min(rates))} | {_fmt(statistics.median(rates))} | {_fmt(max(rates))} | "
                f"{ratio} | {delta} | {cpu} |"
            )
    return rows


def listing_table(listings: Sequence[Listing]) -> list[str]:
    """P1 and P2: each client's rate and its ratio to the scenario's base side."""
    rows = [
        "| Scenario | Workload | Client | Unit | Min | Median | Max | vs base "
        "| Client CPU per item |",
        "|---|---|---|---|--:|--:|--:|--:|--:|",
    ]
    for sc in listings:
        for side in sc.sides:
            if side.name == sc.base:
                ratio = "1 (base)"
            else:
                paired = sc.paired(side.name)
                ratio = f"**{sc.ratio(side.name):.2f}** ({min(paired):.2f} to {max(paired):.2f})"
            cpu = statistics.median(side.cpu) / side.units * 1e6
            rates = side.rates
            rows.append(
                f"| {sc.key} {sc.title} | {sc.workload} | {side.name} | {sc.unit} | "
                f"{_fmt(min(rates))} | {_fmt(statistics.median(rates))} | {_fmt(max(rates))} | "
                f"{ratio} | {cpu:.1f} µs |"
            )
    return rows


def memory_table(memories: Sequence[Memory]) -> list[str]:
    """P4: peak RSS of a fresh process before and after streaming."""
    rows = [
        "| Mode | Items | Listings | Items/s | Peak RSS: start | after 1st page | end "
        "| Growth | Growth after 1st page | ru_maxrss: start, end |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in memories:
        rows.append(
            f"| {m.mode} | {m.items:,} | {m.listings} | {_fmt(m.items / m.seconds)} | "
            f"{m.rss_start_kb / 1024:.1f} MB | {m.rss_warm_kb / 1024:.1f} MB | "
            f"{m.rss_end_kb / 1024:.1f} MB | **{m.growth_mb:+.1f} MB** | "
            f"{m.warm_growth_mb:+.1f} MB | "
            f"{m.maxrss_start_kb / 1024:.1f} MB, {m.maxrss_end_kb / 1024:.1f} MB |"
        )
    return rows


def targets(
    listings: Sequence[Listing], sharded: Sharded | None, memories: Sequence[Memory]
) -> list[Target]:
    """The listing goals (P1, P2, P4) and where this run stands (a missed goal is not an error)."""
    found: list[Target] = []
    for sc in listings:
        if sc.key != "P1":
            continue
        lib_raw = sc.ratio(LIB_TYPED, RAW_DICTS)
        found.append(
            Target("P1 library (typed) ÷ raw aiohttp", f"{lib_raw:.2f}", "≥ 0.7", lib_raw >= 0.7)
        )
        if any(side.name == HTTPX_DICTS for side in sc.sides):
            lib_httpx = sc.ratio(LIB_TYPED, HTTPX_DICTS)
            found.append(
                Target(
                    "P1 library (typed) ÷ naive httpx", f"{lib_httpx:.2f}", "≥ 2", lib_httpx >= 2
                )
            )
        else:
            found.append(Target("P1 library (typed) ÷ naive httpx", "not run", "≥ 2", None))
    if sharded is not None:
        speedup = sharded.listing.ratio(LIB_SHARDED)
        found.append(
            Target("P2 concurrency=8 ÷ concurrency=1", f"{speedup:.2f}x", "≥ 6.4x", speedup >= 6.4)
        )
        ratio = sharded.bound_ratio
        found.append(
            Target(
                f"P2 concurrency=8 time ÷ bound ({sharded.chain_pages} pages ÷ "
                f"{sharded.concurrency} x {sharded.latency_ms:g} ms = {sharded.bound:.2f} s)",
                f"{ratio:.2f}",
                "≤ 1.25",
                ratio <= 1.25,
            )
        )
        # The same two figures without ordered output, for comparison (not the target).
        loose = sharded.listing.ratio(LIB_UNORDERED)
        loose_bound = statistics.median(sharded.listing.side(LIB_UNORDERED).seconds) / (
            sharded.bound
        )
        found += [
            Target(
                "(for comparison) P2 concurrency=8, ordered=False ÷ concurrency=1",
                f"{loose:.2f}x",
                "≥ 6.4x",
                loose >= 6.4,
            ),
            Target(
                "(for comparison) P2 concurrency=8, ordered=False time ÷ bound",
                f"{loose_bound:.2f}",
                "≤ 1.25",
                loose_bound <= 1.25,
            ),
        ]
    for m in memories:
        found.append(
            Target(
                f"P4 peak RSS growth, {m.items:,} items, {m.mode}",
                f"{m.growth_mb:+.1f} MB",
                "< 50 MB",
                m.growth_mb < 50,
            )
        )
    return found


def targets_table(found: Sequence[Target]) -> list[str]:
    rows = ["| Target | Figure | Goal | Met |", "|---|--:|--:|---|"]
    for t in found:
        met = "n/a" if t.met is None else ("yes" if t.met else "**no**")
        rows.append(f"| {t.what} | {t.figure} | {t.goal} | {met} |")
    return rows


@dataclass
class Results:
    scenarios: list[Scenario]
    listings: list[Listing]
    sharded: Sharded | None
    memories: list[Memory]

    def lines(self) -> list[str]:
        """Every table of the run, as Markdown."""
        out: list[str] = []
        if self.scenarios:
            out += ["### Session layer (B1, B2)", "", *table(self.scenarios), ""]
        if self.listings:
            out += ["### Listing (P1, P2)", "", *listing_table(self.listings), ""]
            for sc in self.listings:
                out += [f"- {sc.key}: {note}" for note in sc.notes]
            if self.sharded is not None:
                s = self.sharded
                out += [
                    f"- P2: the single chain read {s.chain_pages} pages; the concurrent listing "
                    f"read {s.sharded_pages} pages in {s.shards} shards ({s.splits} splits); "
                    f"bound = {s.chain_pages} ÷ {s.concurrency} x {s.latency_ms:g} ms = "
                    f"{s.bound:.2f} s, measured ÷ bound per round: "
                    + ", ".join(f"{r:.2f}" for r in s.bound_ratios),
                    f"- P2: at most {s.peak_buffered:,} items held for later shards (ordered); "
                    f"unordered read {s.unordered_pages} pages",
                    f"- P2: one request of the single chain takes {s.request_ms:.1f} ms "
                    f"({s.latency_ms:g} ms added latency + the round trip's own work); with "
                    f"{s.concurrency} always in flight that is {s.chain_pages} ÷ "
                    f"{s.concurrency} x {s.request_ms:.1f} ms = {s.floor:.2f} s "
                    f"({s.floor / s.bound:.2f}x the bound) before any client cost",
                    "",
                ]
        if self.memories:
            out += ["### Memory (P4)", "", *memory_table(self.memories), ""]
        found = targets(self.listings, self.sharded, self.memories)
        if found:
            out += ["### Targets", "", *targets_table(found), ""]
        return out


def figures_section(results: Results, command: str, repeats: int, source: str) -> str:
    facts = machine_facts()
    lines = [
        *preamble(BEGIN_MARK, command),
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, httpx {facts['httpx']}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Source: {source}",
        f"- Repetitions: {repeats} per side after one warm-up; ratio = median rate ÷ median rate "
        "of the base side (in brackets: the range of the per-round ratios)",
        "",
        *results.lines(),
        END_MARK,
    ]
    return "\n".join(lines)

"""H1: what hooks cost. P1's listing with hooks off, on (empty, counting, OpenTelemetry), and
with the library as it was before hooks, in one run against one sandbox.

What is measured
----------------
Every receipt of a sandbox with ``--receipts`` (50 000) receipts, in pages of ``--page-size``
(100), consumed by ``async for`` and discarded, as P1 does; items per second of:

* **raw aiohttp, dicts**: the base of every ratio (P1's ceiling);
* **today, hooks=None**: ``BessaClient(...)``, typed ``client.receipts.list(limit=100)``;
* **before hooks**: the same code against the library at ``--before`` (68ff004, the parent of
  the commit that added hooks), extracted with ``git archive`` into a temporary directory that
  is removed at the end;
* **today, Hooks()** with no hook set; **today, counting hooks** (``RequestTally().hooks()``,
  what the CLI uses); **today, OpenTelemetry**: ``opentelemetry_hooks()`` with the SDK's
  in-memory span exporter (``SimpleSpanProcessor``) and metric reader.

Every side is a child process of its own (``hooks_child.py``) with ``PYTHONPATH`` set to its
tree, so the old package and today's are imported and measured alike; each keeps one client
for the whole run. The parent only sends ``run`` and reads the result, so it takes no CPU from
them. Each side is warmed up once, then the sides take turns in a balanced order (a Williams
design: over a cycle of rounds every side runs in every position, and right after every other
side, equally often), so drift and whatever one listing leaves to the next hit all alike. A
second child running today's library with hooks=None is the control: the two should differ
only by the run's noise. Wall and CPU time are the child's own (``perf_counter``,
``process_time``); the counting side must count every request, and the OpenTelemetry side
must record spans, or the run fails. After the rounds each side lists once more under cProfile
and reports its function calls, a count no load disturbs.

The key figure is (today, hooks=None) ÷ (before hooks), both as ratios to raw aiohttp in the
same run: the issue's target is within 2 % (0.98 to 1.02). The cost of OpenTelemetry is
(today, OpenTelemetry) ÷ (today, hooks=None) and its CPU per item.

Run: ``python benchmarks/hooks_cost.py [--receipts N] [--repeats N] [--no-write]``; the figures
go into ``benchmarks/README.md`` between the H1 markers unless ``--no-write``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import queue
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from figures import listing_table
from harness import Side, sandbox_process
from report import README, command_line, machine_facts, preamble, source_state, write_section
from scenarios import Listing

BEGIN_MARK = (
    "<!-- hooks:begin (written by benchmarks/hooks_cost.py; edits here are overwritten) -->"
)
END_MARK = "<!-- hooks:end -->"
ROOT = Path(__file__).resolve().parent.parent
CHILD = Path(__file__).with_name("hooks_child.py")
BEFORE_HOOKS = "68ff004"  # the parent of 0a322bf, which added hooks

RAW = "raw aiohttp, dicts"
TODAY = "today, typed, hooks=None"
CONTROL = "today, typed, hooks=None (again: the control)"
EMPTY = "today, typed, Hooks() with none set"
COUNTING = "today, typed, counting hooks (RequestTally)"
OTEL = "today, typed, OpenTelemetry (SDK, in-memory)"


def before_name(ref: str) -> str:
    return f"before hooks ({ref}), typed"


@dataclass(frozen=True)
class Plan:
    name: str
    mode: str  # hooks_child.MODES
    tree: Path  # what PYTHONPATH puts first: the bessa_async the child imports
    hooks: bool | None  # whether that package has hooks (checked, unless None)


# --------------------------------------------------------------------------- the old tree


@contextlib.contextmanager
def old_tree(ref: str) -> Iterator[tuple[Path, str]]:
    """``bessa_async/`` as of ``ref`` in a temporary directory (removed at the end), and the
    commit's short id."""

    def git(*args: str) -> bytes:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.decode().strip()}")
        return done.stdout

    commit = git("rev-parse", "--short", "--verify", f"{ref}^{{commit}}").decode().strip()
    data = git("archive", "--format=tar", commit, "bessa_async")
    with tempfile.TemporaryDirectory(prefix="bessa-h1-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp), commit


# --------------------------------------------------------------------------- the workers


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us at shutdown
        for line in stream:
            if line.startswith("H1 "):
                lines.put(line[3:])
    lines.put(None)


@dataclass
class Worker:
    """A side's child process: ``run`` on its stdin, one JSON line back per listing."""

    plan: Plan
    proc: subprocess.Popen[str]
    stderr: IO[str]
    lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    info: dict[str, Any] = field(default_factory=dict)

    def read(self, timeout: float) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            line = None
        if line is None:
            self.stderr.seek(0)
            tail = self.stderr.read()[-2000:]
            state = "exited" if self.proc.poll() is not None else f"was silent for {timeout:g} s"
            raise RuntimeError(f"H1 side {self.plan.name!r} {state}:\n{tail}")
        found: dict[str, Any] = json.loads(line)
        return found

    def run(self, timeout: float, command: str = "run") -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{command}\n")
        self.proc.stdin.flush()
        return self.read(timeout)


@contextlib.contextmanager
def workers(
    plans: Sequence[Plan], url: str, token: str, page_size: int, timeout: float
) -> Iterator[list[Worker]]:
    """Start a child per side, check which package each imported, stop them all at the end."""
    started: list[Worker] = []
    with contextlib.ExitStack() as stack:
        try:
            for plan in plans:
                env = {**os.environ, "PYTHONPATH": str(plan.tree)}
                stderr = stack.enter_context(tempfile.TemporaryFile(mode="w+"))
                command = [sys.executable, str(CHILD), plan.mode, url, token, str(page_size)]
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                    bufsize=1,
                    env=env,
                )
                worker = Worker(plan, proc, stderr)
                started.append(worker)
                assert proc.stdout is not None
                threading.Thread(
                    target=_pump, args=(proc.stdout, worker.lines), daemon=True
                ).start()
            for worker in started:
                worker.info = worker.read(timeout)
                module = Path(worker.info["module"]).resolve()
                if not module.is_relative_to(worker.plan.tree.resolve()):
                    raise RuntimeError(f"{worker.plan.name}: imported {module}, not its tree")
                if worker.plan.hooks not in (None, worker.info["has_hooks"]):
                    raise RuntimeError(f"{worker.plan.name}: hooks present is not as expected")
            yield started
        finally:
            for worker in started:
                _stop(worker.proc)


def _stop(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError, ValueError):
        if proc.stdin is not None:
            proc.stdin.close()  # EOF: the child closes its client and exits
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class H1:
    listing: Listing
    before: str  # the name of the side before hooks
    pages: int
    page_size: int
    events: dict[str, int]  # events the hooks of a side saw per listing (requests, spans)
    calls: dict[str, int]  # function calls of one listing under cProfile, per side
    load: tuple[float, float]  # 1-min load average at the start and at the end


def balanced_orders(n: int) -> list[list[int]]:
    """A Williams design: ``n`` orders of ``n`` sides (``2n`` when ``n`` is odd) in which every
    side takes every position, and follows every other side, equally often.

    Rotating one order would keep each side's predecessor fixed, so an effect of one listing on
    the next (the sandbox's garbage, say) would always fall on the same side.
    """
    first, low, high = [0], 1, n - 1
    while len(first) < n:
        first.append(low)
        low += 1
        if len(first) < n:
            first.append(high)
            high -= 1
    orders = [[(k + i) % n for k in first] for i in range(n)]
    return orders + [order[::-1] for order in orders] if n % 2 else orders


def measure(
    plans: Sequence[Plan], url: str, token: str, *, receipts: int, page_size: int, repeats: int
) -> tuple[list[Side], dict[str, int], dict[str, int]]:
    """Warm each side up once, then ``repeats`` rounds in :func:`balanced_orders`."""
    timeout = max(120.0, receipts / 500)  # 500 items/s would be a hung side, not a slow one
    with workers(plans, url, token, page_size, timeout) as started:
        found: dict[str, list[dict[str, Any]]] = {w.plan.name: [] for w in started}
        for worker in started:
            worker.run(timeout)
        for i in range(repeats):
            orders = balanced_orders(len(started))
            for worker in [started[k] for k in orders[i % len(orders)]]:
                result = worker.run(timeout)
                if result["items"] != receipts:
                    raise RuntimeError(
                        f"{worker.plan.name} saw {result['items']} items, expected {receipts}"
                    )
                found[worker.plan.name].append(result)
            print(f"    round {i + 1}/{repeats} done", flush=True)
        calls = {}
        for worker in started:
            counted = worker.run(timeout, "count")
            if counted["items"] != receipts:
                raise RuntimeError(f"{worker.plan.name} counted {counted['items']} items")
            calls[worker.plan.name] = counted["calls"]
    sides, events = [], {}
    for plan in plans:
        rounds = found[plan.name]
        sides.append(
            Side(plan.name, [r["seconds"] for r in rounds], [r["cpu"] for r in rounds], receipts)
        )
        counts = {r["events"] for r in rounds}
        if len(counts) != 1:
            raise RuntimeError(f"{plan.name}: its hooks saw {sorted(counts)} events per listing")
        events[plan.name] = counts.pop()
    return sides, events, calls


def check_events(events: dict[str, int], pages: int) -> None:
    """The hooked sides really ran their hooks: every request counted, spans recorded."""
    if events[COUNTING] != pages:
        raise RuntimeError(f"the counting hooks saw {events[COUNTING]} requests, not {pages}")
    if events[OTEL] < pages:
        raise RuntimeError(f"OpenTelemetry recorded {events[OTEL]} spans for {pages} requests")


# --------------------------------------------------------------------------- reporting


def _cpu_us(side: Side, per: int) -> float:
    return statistics.median(side.cpu) / per * 1e6


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


@dataclass(frozen=True)
class Compared:
    """One side against a reference side of the same run: items/s and client CPU per item."""

    name: str
    ref: str
    rate: float  # median rate ÷ the reference's median rate (for the key figure: ratio of ratios)
    rounds: tuple[float, float, float]  # quartiles of the per-round rate ratios
    best: float  # best rate ÷ the reference's best rate (the least disturbed rounds)
    cpu: float  # median client CPU per item ÷ the reference's
    cpu_rounds: tuple[float, float, float]  # quartiles of the per-round CPU ratios
    cpu_delta_us: float  # median client CPU per item minus the reference's, µs


def compare(sc: Listing, name: str, ref: str) -> Compared:
    side, base = sc.side(name), sc.side(ref)
    per_item = [c / base_c for c, base_c in zip(side.cpu, base.cpu, strict=True)]
    return Compared(
        name=name,
        ref=ref,
        rate=sc.ratio(name, ref),
        rounds=_quartiles(sc.paired(name, ref)),
        best=max(side.rates) / max(base.rates),
        cpu=statistics.median(side.cpu) / statistics.median(base.cpu),
        cpu_rounds=_quartiles(per_item),
        cpu_delta_us=_cpu_us(side, side.units) - _cpu_us(base, base.units),
    )


def comparisons(h1: H1) -> list[Compared]:
    sc = h1.listing
    found = [compare(sc, TODAY, h1.before), compare(sc, CONTROL, TODAY)]
    found += [compare(sc, s.name, h1.before) for s in sc.sides if s.name.startswith("at ")]
    found += [compare(sc, name, TODAY) for name in (EMPTY, COUNTING, OTEL)]
    return found


def comparison_table(found: Sequence[Compared]) -> list[str]:
    rows = [
        "| Side | Against | Items/s ratio | Per round: median (quartiles) | Best rounds "
        "| Client CPU per item | Per round: median (quartiles) | Δ CPU per item |",
        "|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for c in found:
        q1, q2, q3 = c.rounds
        c1, c2, c3 = c.cpu_rounds
        rows.append(
            f"| {c.name} | {c.ref} | **{c.rate:.3f}** | {q2:.3f} ({q1:.3f} to {q3:.3f}) | "
            f"{c.best:.3f} | **x{c.cpu:.3f}** | x{c2:.3f} ({c1:.3f} to {c3:.3f}) | "
            f"{c.cpu_delta_us:+.2f} µs |"
        )
    return rows


def key_figures(h1: H1) -> list[str]:
    sc, pages = h1.listing, h1.pages
    key, otel = compare(sc, TODAY, h1.before), compare(sc, OTEL, TODAY)
    met = 0.98 <= key.rate <= 1.02
    q1, _, q3 = key.rounds
    resolved = q1 >= 0.98 and q3 <= 1.02
    noise = (
        "the per-round ratios' middle half lies within the target too"
        if resolved
        else f"but the per-round ratios' middle half spans {q1:.3f} to {q3:.3f}, wider than the "
        "target: on this run items/s alone cannot tell 2 % apart; judge by the client CPU"
    )
    cpu_met = 0.98 <= key.cpu <= 1.02
    per_request = key.cpu_delta_us * h1.page_size
    control = compare(sc, CONTROL, TODAY)
    calls = h1.calls
    extra = (calls[TODAY] - calls[h1.before]) / pages
    return [
        f"- **Function calls, hooks off, today minus before hooks: {extra:+.2f} per request** "
        f"({calls[TODAY]:,} against {calls[h1.before]:,} in one listing under cProfile, a count "
        "no load disturbs); per request for each side: "
        + ", ".join(f"{name} {count / pages:,.1f}" for name, count in calls.items()),
        f"- **The control** (the same library, mode and tree in a second child) ÷ today, "
        f"hooks=None: **{control.rate:.3f}** in items/s, CPU per item x{control.cpu:.3f}: "
        "the run's noise floor; a difference of that size between other sides is no finding",
        f"- **Hooks off, today ÷ before hooks: {key.rate:.3f}** in items/s (the two sides' ratios "
        f"to raw aiohttp: {sc.ratio(TODAY):.3f} ÷ {sc.ratio(h1.before):.3f}); target 0.98 to "
        f"1.02: {'met' if met else '**missed**'}, {noise}",
        f"- **Client CPU per item, hooks off, today ÷ before hooks: x{key.cpu:.3f}** "
        f"({key.cpu_delta_us:+.2f} µs per item, {per_request:+.0f} µs per request); within 2 %: "
        f"{'yes' if cpu_met else '**no**'}",
        f"- **OpenTelemetry on** (SDK, in-memory): **{otel.rate:.3f}** x the items/s of "
        f"hooks=None ({otel.rate - 1:+.1%}), client CPU per item x{otel.cpu:.3f} "
        f"({otel.cpu_delta_us:+.2f} µs per item, {otel.cpu_delta_us * h1.page_size:+.0f} µs per "
        f"request); {h1.events[OTEL] / pages:.2f} spans per request recorded",
        f"- The counting hooks counted {h1.events[COUNTING]} requests per listing: every request "
        "sent",
    ]


def section(h1: H1, command: str, repeats: int, source: str, before_commit: str) -> str:
    facts = machine_facts()
    with contextlib.suppress(metadata.PackageNotFoundError):
        facts["otel"] = metadata.version("opentelemetry-sdk")
    start, end = h1.load
    lines = [
        *preamble(BEGIN_MARK, command),
        f"- Machine: {facts['cores']} cores, {facts['cpu']}, {facts['os']}; **a shared machine**: "
        f"other work ran beside the benchmark (1-min load average {start:.2f} at the start, "
        f"{end:.2f} at the end), which the interleaving spreads over all sides alike",
        f"- Versions: {facts['python']}, aiohttp {facts['aiohttp']}, "
        f"opentelemetry-sdk {facts.get('otel', '(not installed)')}, "
        f"bessa_async {facts['bessa_async']}",
        f"- Today: {source}; before hooks: commit {before_commit} (`git archive` into a temporary "
        "directory)",
        f"- Each side a child process with its tree on `PYTHONPATH`, one sandbox process; "
        f"{repeats} rounds after one warm-up per side, in a balanced order (every side in every "
        "position and after every other equally often, per cycle of rounds); ratio = "
        "median rate ÷ median rate of raw aiohttp (in brackets: the range of the per-round "
        "ratios); client CPU: the child's own",
        "",
        *listing_table([h1.listing]),
        "",
        *comparison_table(comparisons(h1)),
        "",
        *key_figures(h1),
        "",
        END_MARK,
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/hooks_cost.py",
        description="H1: P1's listing with hooks off and on, and before hooks, in one run.",
    )
    parser.add_argument("--receipts", type=int, default=50_000, help="receipts listed (50000)")
    parser.add_argument("--page-size", type=int, default=100, help="limit= of every page (100)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=14,
        help="rounds after the warm-up (14: one balanced cycle of the 7 default sides)",
    )
    parser.add_argument(
        "--before", default=BEFORE_HOOKS, help=f"the commit before hooks ({BEFORE_HOOKS})"
    )
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="REF",
        help="one more side: the library at REF, hooks=None (e.g. 0a322bf, the hooks commit)",
    )
    parser.add_argument("--startup-timeout", type=float, default=120.0)
    parser.add_argument("--json", type=Path, help="also write every round's times to this file")
    parser.add_argument("--no-write", action="store_true", help="do not touch README.md")
    args = parser.parse_args(argv)
    if min(args.receipts, args.page_size, args.repeats) < 1:
        raise SystemExit("sizes and repetitions must be positive")
    command = command_line("benchmarks/hooks_cost.py", argv)
    source = source_state()
    pages = -(-args.receipts // args.page_size)
    load_start = os.getloadavg()[0]
    with contextlib.ExitStack() as trees:
        tmp, before_commit = trees.enter_context(old_tree(args.before))
        before = before_name(before_commit)
        plans = [
            Plan(RAW, "raw", ROOT, hooks=True),
            Plan(TODAY, "typed", ROOT, hooks=True),
            Plan(CONTROL, "typed", ROOT, hooks=True),
            Plan(before, "typed", tmp, hooks=False),
            Plan(EMPTY, "empty", ROOT, hooks=True),
            Plan(COUNTING, "counting", ROOT, hooks=True),
            Plan(OTEL, "otel", ROOT, hooks=True),
        ]
        for ref in args.also:
            tree, commit = trees.enter_context(old_tree(ref))
            plans.append(Plan(f"at {commit}, typed, hooks=None", "typed", tree, hooks=None))
        print(f"H1: starting a sandbox with {args.receipts} receipts ...", flush=True)
        started = time.perf_counter()
        with sandbox_process(
            receipts=args.receipts,
            latency_ms=0,
            startup_timeout=args.startup_timeout,
            max_limit=max(500, args.page_size),
        ) as info:
            print(f"    ready in {time.perf_counter() - started:.1f} s", flush=True)
            sides, events, calls = measure(
                plans,
                info.url,
                info.token,
                receipts=args.receipts,
                page_size=args.page_size,
                repeats=args.repeats,
            )
    check_events(events, pages)
    listing = Listing(
        key="H1",
        title="hooks' cost, streaming a list, zero latency",
        unit="items/s",
        workload=f"{args.receipts} receipts, {pages} pages of {args.page_size}",
        sides=sides,
        base=RAW,
    )
    h1 = H1(listing, before, pages, args.page_size, events, calls, (load_start, os.getloadavg()[0]))
    text = section(h1, command, args.repeats, source, before_commit)
    table = [*listing_table([listing]), "", *comparison_table(comparisons(h1))]
    print("\n".join([*table, "", *key_figures(h1)]))
    if args.json is not None:
        rounds = {
            "command": command,
            "events": events,
            "calls": calls,
            "sides": [vars(side) for side in sides],
        }
        args.json.write_text(json.dumps(rounds, indent=1) + "\n", encoding="utf-8")
    if not args.no_write:
        write_section(text, begin_mark=BEGIN_MARK, end_mark=END_MARK, heading="H1 figures")
        print(f"\nfigures written to {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

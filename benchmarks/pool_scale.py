"""``python -m benchmarks.pool_scale``: the pool's bookkeeping cost as environments pile up.

Drives ``EnvironmentPool`` directly with stand-ins for environments (what the pool touches:
key, memory, alive/busy, last use, thaw/freeze/destroy), so only the pool's own work is timed:
a warm acquire + release on a random function, a cold start that must first evict the least
recently used idle environment (memory budget full), and a reaper pass with nothing to reap.
Each is timed with 100 and with N (default 20,000) idle environments spread over N/10
functions; equal figures mean no operation scans the environments.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from lamina.pool.pool import EnvironmentPool

MEMORY_MB = 128
_ids = itertools.count()


class StandIn:
    """What the pool uses of an Environment, with no process behind it."""

    def __init__(self, key: str) -> None:
        self.id = f"env-{next(_ids)}"
        self.key = key
        self.memory_mb = MEMORY_MB
        self.alive = True
        self.busy = False
        self.last_used = time.monotonic()

    def thaw(self) -> None:
        pass

    def freeze_later(self, delay_s: float) -> None:
        pass

    async def destroy(self) -> None:
        self.alive = False


def _start(key: str) -> Callable[[], Awaitable[Any]]:
    async def start() -> Any:
        return StandIn(key)

    return start


async def measure(environments: int, rounds: int) -> dict[str, float]:
    slots = max(1, environments // 10)
    pool = EnvironmentPool(idle_timeout_s=3600, memory_budget_mb=environments * MEMORY_MB)
    names = [f"fn-{i}:1" for i in range(slots)]
    busy = []
    for i in range(environments):
        name = names[i % slots]
        busy.append((name, await pool.acquire(name, name, _start(name), MEMORY_MB)))
    for name, env in busy:
        await pool.release(name, env)
    warm = []
    for _ in range(rounds):
        name = random.choice(names)
        started = time.perf_counter()
        env = await pool.acquire(name, name, _start(name), MEMORY_MB)
        await pool.release(name, env)
        warm.append(time.perf_counter() - started)
    evicting = []
    for i in range(rounds):
        name = f"new-{i}:1"
        started = time.perf_counter()
        env = await pool.acquire(name, name, _start(name), MEMORY_MB)
        await pool.release(name, env)
        evicting.append(time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(rounds):
        await pool.reap()
    reap_s = (time.perf_counter() - started) / rounds
    assert pool.count() == environments, pool.stats()
    await pool.close()
    return {
        "warm_us": _median(warm) * 1e6,
        "evicting_us": _median(evicting) * 1e6,
        "reap_us": reap_s * 1e6,
    }


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool_scale")
    parser.add_argument("--environments", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    args = parser.parse_args(argv)
    print("| idle environments | functions | warm acquire+release p50 | cold start evicting "
          "the LRU p50 | reaper pass, nothing due |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for count in (100, args.environments):
        figures = asyncio.run(measure(count, args.rounds))
        print(
            f"| {count:,} | {max(1, count // 10):,} | {figures['warm_us']:.1f} µs | "
            f"{figures['evicting_us']:.1f} µs | {figures['reap_us']:.1f} µs |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

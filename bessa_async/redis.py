"""One pause after a 429, and one pace, for every process using a token: a gate kept in Redis.

Installed with the ``redis`` extra (``pip install "bessa-async[redis]"``); redis-py's asyncio
client talks to the server::

    gate = RedisRateGate(redis.asyncio.Redis.from_url("redis://localhost:6379/0"), rate="30/s")
    client = BessaClient(token, rate_gate=gate)

Each token is one key, ``PREFIX:SHA256(token)``, holding the earliest time its next request may
go (the "theoretical arrival time" of GCRA). A 429's pause pushes that time back, never
forward; with ``rate=``, each request takes its turn and pushes it by one interval, so the
processes sharing the token keep to the rate together instead of resuming all at once after a
pause. One script, one round trip per request; the key expires once it is in the past.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final, final

try:
    import redis.asyncio as aioredis
except ImportError as exc:  # pragma: no cover - the extra is installed wherever this is tested
    raise ImportError('bessa_async.redis needs redis-py: pip install "bessa-async[redis]"') from exc

from ._base.errors import ConfigurationError, InvalidTypeError, InvalidValueError
from ._base.rates import parse_rate

__all__ = ["DEFAULT_PREFIX", "RedisRateGate"]

DEFAULT_PREFIX: Final = "bessa:gate"
"""The start of every key the gate writes: ``bessa:gate:<sha256 of the token in hex>``."""

_HORIZON_MS: Final = 86_400_000.0
"""A time further ahead than this (a day) was not written by a gate: it is read as no time."""

# KEYS[1]: the token's key. ARGV[1]: 'turn' or 'block'; ARGV[2]: now in ms, '' for the
# server's own clock; ARGV[3]: the interval between turns (turn) or the pause (block), in ms;
# ARGV[4]: the horizon in ms. A turn answers its wait in ms, as text.
_SCRIPT: Final = """
if redis.replicate_commands then redis.replicate_commands() end
local now = tonumber(ARGV[2])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
end
local amount = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '')
if not tat or tat ~= tat or tat < now or tat > now + tonumber(ARGV[4]) then
  tat = now
end
if ARGV[1] == 'block' then
  local paused = now + amount
  if paused > tat then
    redis.call('SET', KEYS[1], string.format('%.3f', paused), 'PX', math.ceil(amount) + 1000)
  end
  return '0'
end
if amount > 0 then
  local later = tat + amount
  redis.call('SET', KEYS[1], string.format('%.3f', later), 'PX', math.ceil(later - now) + 1000)
end
return string.format('%.3f', tat - now)
"""


@final
class RedisRateGate:
    """The pause after a 429, and a pace, shared in Redis by every client of a token.

    Pass it as ``BessaClient(..., rate_gate=gate)`` (or ``BlockingClient``) in each process;
    one gate may serve any number of clients and tokens.

    Args:
        redis_client: a ``redis.asyncio.Redis`` (or ``RedisCluster``). Like the client, it
            belongs to the event loop (and the process) it is first used in.
        rate: the token's throttle as DRF writes it (``"30/s"``, ``"100/minute"``), kept by
            all the processes together: one request every period ÷ N, in turn. None: only the
            pause after a 429 is shared.
        prefix: the start of the gate's keys (:data:`DEFAULT_PREFIX`).
        clock: seconds on a clock every process shares; None (the default) is the Redis
            server's own clock, the same for processes on any machine.

    When Redis cannot be reached or answers with an error, the client logs one warning and
    keeps to its own pause; no call fails because of the gate.

    Raises:
        InvalidTypeError: ``redis_client`` is not redis-py's asyncio client.
        InvalidValueError: a rate DRF would not read, or an empty prefix.
    """

    def __init__(
        self,
        redis_client: aioredis.Redis | aioredis.RedisCluster,
        rate: str | None = None,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not isinstance(redis_client, aioredis.Redis | aioredis.RedisCluster):
            raise InvalidTypeError(
                "RedisRateGate needs redis-py's asyncio client (redis.asyncio.Redis), got "
                f"{type(redis_client).__module__}.{type(redis_client).__qualname__}"
            )
        if not isinstance(prefix, str) or not prefix:
            raise InvalidValueError(f"prefix must be a non-empty str, got {prefix!r}")
        self._interval_ms = 0.0
        if rate is not None:
            count, seconds = parse_rate(rate)
            self._interval_ms = seconds * 1000 / count
        self.rate = rate
        """The pace kept together (DRF's notation), or None for the shared pause alone."""
        self.prefix = prefix
        self._clock = clock
        self._script = redis_client.register_script(_SCRIPT)
        self._pid: int | None = None  # of the process that first used it

    def __repr__(self) -> str:
        return f"RedisRateGate(rate={self.rate!r}, prefix={self.prefix!r})"

    async def turn(self, key: str) -> float:
        """This request's turn: seconds to wait before it is sent (see the module)."""
        answer = await self._run("turn", key, self._interval_ms)
        return float(answer) / 1000

    async def block(self, key: str, seconds: float) -> None:
        """Pause every request of ``key`` for ``seconds`` from now, unless a longer pause is on."""
        await self._run("block", key, max(0.0, seconds) * 1000)

    async def _run(self, mode: str, key: str, amount_ms: float) -> bytes | str:
        if self._pid is None:
            self._pid = os.getpid()
        elif self._pid != os.getpid():
            # A forked child would share the parent's sockets: answers could cross.
            raise ConfigurationError(
                "this RedisRateGate's Redis client was used before os.fork(); its connections "
                "belong to the parent: make the gate (and its Redis client) in each process"
            )
        now = "" if self._clock is None else repr(self._clock() * 1000)
        answer: bytes | str = await self._script(
            keys=[f"{self.prefix}:{key}"], args=[mode, now, repr(amount_ms), repr(_HORIZON_MS)]
        )
        return answer

"""Global send limits shared by every worker, kept in Redis.

Each check is one Lua script, so it is atomic across workers, and reads Redis
server time (``TIME``), so the workers' own clocks do not matter. Keys expire
once they carry no information any more.

``acquire`` never blocks: it answers 0.0 when granted, else how many seconds
to wait before asking again (and then nothing was taken).
"""

import math

# Bucket state: tokens left and the moment they were counted (server seconds).
# Refused requests take nothing; the refill since the last call is stored
# either way, which changes nothing for later callers.
_TOKEN_BUCKET = """
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil or at == nil then
    tokens = burst
elseif now > at then
    tokens = math.min(burst, tokens + (now - at) * rate)
end
local wait = 0
if tokens >= wanted then
    tokens = tokens - wanted
else
    wait = (wanted - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""

# One key per recipient, living for the interval: granted when it was absent.
_RECIPIENT_INTERVAL = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
    return 0
end
return math.max(redis.call('PTTL', KEYS[1]), 1)
"""


class TokenBucket:
    """At most ``rate_per_s`` on average, and ``burst`` at once, for everyone
    acquiring from the same ``key`` (e.g. a provider account's rate limit)."""

    def __init__(self, redis_client, key, rate_per_s, burst):
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate_per_s > 0 and burst >= 1")
        self.key, self.rate_per_s, self.burst = key, float(rate_per_s), float(burst)
        self._script = redis_client.register_script(_TOKEN_BUCKET)

    def acquire(self, tokens=1) -> float:
        if not 0 < tokens <= self.burst:
            raise ValueError(f"can acquire 1 to {self.burst:g} tokens at once, not {tokens}")
        return float(self._script(keys=[self.key], args=[self.rate_per_s, self.burst, tokens]))


class RecipientInterval:
    """At most one message per recipient every ``interval_s`` seconds."""

    def __init__(self, redis_client, key_prefix, interval_s):
        if interval_s <= 0:
            raise ValueError("a recipient interval must be positive")
        self.key_prefix, self.interval_ms = key_prefix, max(1, math.ceil(interval_s * 1000))
        self._script = redis_client.register_script(_RECIPIENT_INTERVAL)

    def acquire(self, recipient) -> float:
        waiting_ms = self._script(keys=[f"{self.key_prefix}{recipient}"], args=[self.interval_ms])
        return waiting_ms / 1000

"""The alert store in Redis (``REDIS_URL``): several containers share each discussion's window and one outbox."""

from __future__ import annotations

import json
import uuid
from typing import Any

from hatespeech.alerts.overflow import victims
from hatespeech.alerts.store import Maintenance, Row, Store, is_call
from hatespeech.aof import after_erase
from hatespeech.connections import open_redis

_ENQUEUE_IF_COOLED = """
local last = redis.call('HMGET', KEYS[1], 'until', 'share', 'mean')
local now, share, mean, step = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if last[1] and now < tonumber(last[1]) then
  if not (share >= tonumber(last[2]) + step - 1e-9 or mean >= tonumber(last[3]) + step - 1e-9) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'until', ARGV[2], 'share', ARGV[3], 'mean', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
for _, r in ipairs(cjson.decode(ARGV[8])) do
  local key = ARGV[7] .. 'o:' .. r.id
  redis.call('HSET', key, 'id', r.id, 'alert_id', r.alert_id, 'url', r.url, 'format', r.format,
             'alert', r.alert, 'created', r.created, 'due', r.due, 'attempts', 0)
  if r.text then
    redis.call('HSET', key, 'text', r.text)
    redis.call('ZADD', KEYS[4], r.created, r.id)
  end
  redis.call('ZADD', KEYS[2], r.due, r.id)
  redis.call('ZADD', KEYS[3], r.created, r.id)
end
return 1
"""

# KEYS: due, created, texted. ARGV: now, lease_until, lease, limit, prefix
_CLAIM = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[5] .. 'o:' .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    redis.call('HSET', key, 'lease', ARGV[3], 'due', ARGV[2])
    out[#out + 1] = redis.call('HGETALL', key)
  else
    redis.call('ZREM', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
    redis.call('ZREM', KEYS[3], id)
  end
end
return out
"""

# KEYS: row, due. ARGV: lease, due, error, id
_RETRY = """
if redis.call('HGET', KEYS[1], 'lease') ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'error', ARGV[3], 'due', ARGV[2])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[4])
return 1
"""


class RedisStore(Store):
    def __init__(self, url: str, prefix: str = "hatespeech:", timeout: float = 2.0, aof_rewrite_seconds: float = 0.0):
        self.client = open_redis(url, timeout)
        self.prefix = prefix
        self.aof_rewrite_seconds = aof_rewrite_seconds  # hatespeech/aof.py
        self.keys = {name: prefix + name for name in ("due", "created", "texted", "calls")}
        self._enqueue_if_cooled = self.client.register_script(_ENQUEUE_IF_COOLED)
        self._claim = self.client.register_script(_CLAIM)
        self._retry = self.client.register_script(_RETRY)

    def append(self, thread: str, entry: dict, now: float, max_messages: int, max_age: float) -> list[dict]:
        key = f"{self.prefix}w:{thread}"
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(entry))
            pipe.ltrim(key, 0, max_messages - 1)
            pipe.pexpire(key, int(max_age * 1000) + 1000)
            pipe.lrange(key, 0, -1)
            window = pipe.execute()[-1]
        return [e for e in map(json.loads, window) if e["ts"] >= now - max_age]

    def window(self, thread: str, now: float, max_age: float) -> list[dict]:
        found = self.client.lrange(f"{self.prefix}w:{thread}", 0, -1)
        return [e for e in map(json.loads, found) if e["ts"] >= now - max_age]

    @staticmethod
    def _fields(row: Row) -> dict[str, Any]:
        fields = {
            "id": row.id,
            "alert_id": row.alert_id,
            "url": row.url,
            "format": row.format,
            "alert": row.alert,
            "created": repr(row.created),
            "due": repr(row.due),
        }
        if row.text is not None:
            fields["text"] = row.text
        return fields

    def enqueue(self, rows: list[Row]) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            for row in rows:
                pipe.hset(f"{self.prefix}o:{row.id}", mapping={**self._fields(row), "attempts": 0})
                pipe.zadd(self.keys["due"], {row.id: row.due})
                pipe.zadd(self.keys["created"], {row.id: row.created})
                if row.text is not None:
                    pipe.zadd(self.keys["texted"], {row.id: row.created})
                if is_call(row.format):
                    pipe.zadd(self.keys["calls"], {row.id: row.created})
            pipe.execute()

    def enqueue_if_cooled(
        self, thread: str, now: float, cooldown: float, share: float, mean: float, step: float, rows: list[Row]
    ) -> bool:
        keys = [f"{self.prefix}c:{thread}", self.keys["due"], self.keys["created"], self.keys["texted"]]
        args = [repr(now), repr(now + cooldown), repr(share), repr(mean), repr(step), int(cooldown * 1000) + 1000]
        args += [self.prefix, json.dumps([self._fields(r) for r in rows])]
        return bool(self._enqueue_if_cooled(keys=keys, args=args))

    def claim(self, now: float, lease_seconds: float, limit: int) -> list[Row]:
        keys = [self.keys["due"], self.keys["created"], self.keys["texted"]]
        found = self._claim(
            keys=keys, args=[repr(now), repr(now + lease_seconds), uuid.uuid4().hex, limit, self.prefix]
        )
        rows = [Row.from_mapping(dict(zip(flat[::2], flat[1::2], strict=True))) for flat in found]
        return sorted(rows, key=lambda r: r.created)

    def _delete(self, ids: list[str]) -> None:
        if not ids:
            return
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(*(f"{self.prefix}o:{i}" for i in ids))
            for key in self.keys.values():
                pipe.zrem(key, *ids)
            pipe.execute()

    def delivered(self, row: Row) -> None:
        self._delete([row.id])

    def retry(self, row: Row, due: float, error: str) -> None:
        self._retry(
            keys=[f"{self.prefix}o:{row.id}", self.keys["due"]], args=[row.lease, repr(due), error[:500], row.id]
        )

    def give_up(self, row: Row) -> None:
        self._delete([row.id])

    def _rows(self, ids: list[str]) -> list[Row]:
        with self.client.pipeline(transaction=False) as pipe:
            for i in ids:
                pipe.hgetall(f"{self.prefix}o:{i}")
            return [Row.from_mapping(values) for values in pipe.execute() if values]

    def maintain(
        self, now: float, text_retention: float, max_age: float, outbox_max: int, window_age: float
    ) -> Maintenance:
        # windows and cool-downs expire by themselves (PEXPIRE)
        done = Maintenance()
        old_texts = self.client.zrangebyscore(self.keys["texted"], "-inf", f"({now - text_retention!r}")
        if old_texts:
            with self.client.pipeline(transaction=True) as pipe:
                for i in old_texts:
                    pipe.hdel(f"{self.prefix}o:{i}", "text")
                pipe.zrem(self.keys["texted"], *old_texts)
                done.texts_erased = sum(pipe.execute()[:-1])
        expired = self.client.zrangebyscore(self.keys["created"], "-inf", f"({now - max_age!r}")
        done.expired = self._rows(expired)
        self._delete(expired)
        count = self.client.zcard(self.keys["created"])
        if count > outbox_max:
            ids = self.client.zrange(self.keys["created"], 0, -1, withscores=True)
            with self.client.pipeline(transaction=False) as pipe:
                for i, _ in ids:
                    pipe.hmget(f"{self.prefix}o:{i}", ["alert", "format"])
                found = pipe.execute()
            # boards' calls are never dropped: only alerts are candidates
            alerts = [(i, c, b or "{}") for (i, c), (b, f) in zip(ids, found, strict=True) if not is_call(f or "json")]
            chosen = victims(alerts, count - outbox_max)
            done.dropped = self._rows(chosen)
            self._delete(chosen)
        done.pending = self.pending()
        after_erase(self.client, self.prefix, done.texts_erased, self.aof_rewrite_seconds)
        return done

    def pending(self) -> int:
        return self.client.zcard(self.keys["created"])

    def calls_pending(self) -> int:
        return self.client.zcard(self.keys["calls"])

    def close(self) -> None:
        self.client.close()

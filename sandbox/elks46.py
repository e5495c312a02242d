"""The 46elks simulator: `/46elks/a1/...` (PROVIDER_NOTES.md §1, §5).

Seeded history is computed item by item from `account.rng(kind, i)` and `history_time`, never
materialised, so a million-message account pages in constant memory: item 0 is the newest,
an index is found from a time by bisection, and ids embed their index so `GET /sms/{id}`
works without a table. Live records (sends, emitted inbound traffic) live in
`account.state["live"]` and are merged into listings by time.

Deliberately independent of `providers.adapters` so it can catch the adapter's mistakes.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import heapq
import io
import itertools
import json
import math
import random
import re
import struct
import threading
import wave
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from .sim import ProviderSim, SimAccount, SimRequest, SimResponse, history_time, valid_e164

# A seeded item's random source (first draw spent) and its time.
Seeded = tuple[random.Random, datetime]

SPAN = timedelta(days=365)  # seeded history covers the year before the account's anchor
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SENDER_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,10}$")
URL = re.compile(r"^https?://\S+$")
FORM = {"content-type": "application/x-www-form-urlencoded"}
PREFIX = {"sms": "s", "mms": "m", "calls": "c"}
SMS_PART_COST = {"+46": 3500, "+358": 5200, "+47": 5200, "+45": 5200}  # 1/10000 SEK
SMS_PART_COST_OTHER = 7000
MMS_COST = 12500
CALL_MINUTE_COST = 1500
NUMBER_MONTHLY_COST = 300000
COUNTRIES = {"se": "+4676", "fi": "+35845", "dk": "+4520", "no": "+4740", "de": "+49151", "gb": "+447700"}
GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = set("^{}\\[~]|€\f")
TEXTS = [
    "Your verification code is 482913",
    "Hej! Din tid hos tandläkaren är bokad till torsdag 14:30.",
    "Thanks, see you tomorrow",
    "Påminnelse: fakturan förfaller om 3 dagar.",
    "Kan du ringa mig när du har tid? 🙂",
    "Your parcel is ready for pickup at Ombud Centrum, code 7781.",
    "OK",
    "Meeting moved to 10:00 [room B]. Bring the €-invoice.",
    "Stopp",
    "Hello from the sandbox! " * 8,
]
NAMES = ["Acme AB", "Nordic Fika", "Bergström & Co", "Lilla Kiosken", "Växjö IT", "Oslo Dental"]


@functools.lru_cache(maxsize=256)  # the seeded history repeats a few texts
def sms_parts(text: str) -> int:
    """GSM-7 160/153 per part (extension characters count twice), else UCS-2 70/67."""
    if all(c in GSM7 or c in GSM7_EXT for c in text):
        units = sum(2 if c in GSM7_EXT else 1 for c in text)
        return 1 if units <= 160 else math.ceil(units / 153)
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= 70 else math.ceil(units / 67)


def part_cost(to: str) -> int:
    for prefix, cost in SMS_PART_COST.items():
        if to.startswith(prefix):
            return cost
    return SMS_PART_COST_OTHER


def fmt(dt: datetime) -> str:
    """46elks time: naive UTC with microseconds."""
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def parse_ts(value: str) -> datetime:
    text = value.strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(text if "T" in text else text.replace(" ", "T", 1))
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def _hex(*salt: Any, n: int = 32) -> str:
    return hashlib.sha256(repr(salt).encode()).hexdigest()[:n]


def tiny_png(key: str, width: int = 240, height: int = 160) -> bytes:
    """A small picture-like PNG (a sky gradient with a sun) whose colours depend on `key`:
    deterministic, valid, a few KB, and big enough to look like a photo in the dashboard."""
    digest = hashlib.sha1(key.encode()).digest()  # noqa: S324 - colours, not security
    top, bottom, sun = digest[:3], digest[3:6], (255, 214, 90)
    cx, cy, radius = width * (1 + digest[6] % 3) // 4, height // 3, height // 6
    rows = []
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = bytes(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        row = bytearray(colour * width)
        dy = y - cy
        if abs(dy) < radius:
            half = int((radius * radius - dy * dy) ** 0.5)
            lo, hi = max(cx - half, 0), min(cx + half, width)
            row[lo * 3 : hi * 3] = bytes(sun) * (hi - lo)
        rows.append(b"\x00" + bytes(row))
    raw = b"".join(rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def tiny_wav(key: str, seconds: float = 0.5) -> bytes:
    """A short 8 kHz mono 16-bit tone; pitch depends on `key` (deterministic, valid)."""
    rate = 8000
    freq = 300 + int(_hex(key, n=4), 16) % 600
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * freq * n / rate)))
        for n in range(int(rate * seconds))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return out.getvalue()


class Reject(Exception):
    """A 46elks-style text/plain error raised from deep inside a handler."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class Elks46Sim(ProviderSim):
    code = "46elks"
    root = "/a1"

    def __init__(self, sandbox):
        super().__init__(sandbox)
        self._lock = threading.RLock()

    # -- plumbing -------------------------------------------------------------------------------
    @staticmethod
    def _split(path: str) -> list[str]:
        parts = [p for p in path.split("/") if p]
        if parts and parts[0] == "a1":
            parts = parts[1:]
        if parts:
            parts[0] = parts[0].lower()  # /SMS, /Calls, /Me still work
        return parts

    def endpoint(self, request: SimRequest) -> str:
        return f"{request.method} /a1/" + "/".join(self._split(request.path))

    def error_response(self, status: int, message: str) -> SimResponse:
        return SimResponse.text(message, status)

    def malformed_response(self) -> SimResponse:
        return SimResponse(200, b'{"data": [{"id": "s', {"content-type": "application/json"})

    def authenticate(self, request: SimRequest) -> SimAccount | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            username, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if not username or not password:
            return None
        account = self.sandbox.find_account(self.code, username=username, password=password)
        if account is None:
            account = self._subaccount_login(username, password)
        return account

    def _subaccount_login(self, username: str, password: str) -> SimAccount | None:
        """A subaccount's id/secret are API credentials too; register it on first use."""
        for parent in list(self.sandbox.accounts.get(self.code, [])):
            sub = parent.state.get("subaccounts", {}).get(username)
            if sub and sub.get("secret") == password and sub.get("active", "yes") != "no":
                return self.sandbox.add_account(
                    self.code,
                    {"username": username, "password": password},
                    remote_id=username,
                    seed=parent.seed,
                    size=0,
                    parent=parent,
                )
        return None

    def setup_account(self, account: SimAccount) -> None:
        rng = account.rng("account")
        seeded = account.parent is None and account.size > 0
        state: dict[str, Any] = {
            "user_id": account.remote_id if account.parent else "u" + _hex(account.remote_id, "user"),
            "currency": "SEK",
            "balance": rng.randrange(2_000_000, 90_000_000, 100) if account.parent is None else 0,
            "creditalert": 200000,
            "numbers": {},
            "subaccounts": {},
            "live": {"sms": {}, "mms": {}, "calls": {}, "recordings": {}, "images": {}},
            "counter": 0,
            "last": account.anchor,
        }
        account.state.update(state)
        if not seeded:
            return
        born = account.anchor - SPAN - timedelta(days=30)
        for i in range(5 + rng.randrange(6)):
            nrng = account.rng("numbers", i)
            created = born + timedelta(days=i * 7, seconds=nrng.randrange(86400))
            number = {
                "id": "n" + _hex(account.remote_id, "number", i),
                "active": "yes",
                "country": "se",
                "number": f"+4676686{1000 + i * 37 + nrng.randrange(30):04d}",
                "capabilities": ["sms", "voice"] if i % 3 else ["sms", "mms", "voice"],
                "category": "mobile",
                "sms_replies": "yes",
                "created": fmt(created),
                "allocated": fmt(created),
                "expires": fmt(account.anchor + timedelta(days=1 + nrng.randrange(30))),
                "cost": NUMBER_MONTHLY_COST,
            }
            if i == 0:
                number["name"] = "Support line"
            account.state["numbers"][number["id"]] = number
        for i in range(3):
            srng = account.rng("subaccounts", i)
            sub = {
                "id": _hex(account.remote_id, "sub", i),
                "secret": _hex(account.remote_id, "secret", i).upper(),
                "name": NAMES[i],
                "created": fmt(born + timedelta(days=20 * i, seconds=srng.randrange(86400))),
                "usagelimit": srng.choice([1_000_000, 5_000_000, 50_000_000]),
            }
            if i:
                sub["balanceused"] = srng.randrange(0, 900_000, 100)
            account.state["subaccounts"][sub["id"]] = sub

    def _own_numbers(self, account: SimAccount) -> list[str]:
        return [n["number"] for n in account.state["numbers"].values()] or ["+46766860000"]

    def _now(self, account: SimAccount) -> datetime:
        """Wall-clock time, strictly increasing per account so live timestamps never tie."""
        now = max(datetime.now(UTC), account.state["last"] + timedelta(microseconds=1))
        account.state["last"] = now
        return now

    def _new_id(self, account: SimAccount, prefix: str) -> str:
        account.state["counter"] += 1
        return prefix + _hex(account.remote_id, "live", prefix, account.state["counter"])

    # -- seeded history (lazy) ------------------------------------------------------------------------
    def _count(self, account: SimAccount, kind: str) -> int:
        if account.parent is not None:
            return 0
        return {"sms": account.size, "mms": account.size // 10, "calls": account.size // 4}[kind]

    def _seed_time(self, account: SimAccount, kind: str, i: int) -> Seeded:
        """Item i's rng (first draw spent) and time: index order is strictly newest first."""
        count = self._count(account, kind)
        rng = account.rng(kind, i)
        step_us = (SPAN / max(count, 1)) // timedelta(microseconds=1)
        jitter = int(rng.random() * min(step_us, 1_000_000))
        return rng, history_time(account, i, SPAN, count) - timedelta(microseconds=jitter)

    def _seed_id(self, account: SimAccount, kind: str, i: int) -> str:
        # 20 hex of hash + 12 hex of (index xor a mask taken from those 20): looks random,
        # decodes without a table.
        head = _hex(account.remote_id, account.seed, kind, i, n=20)
        return PREFIX[kind] + head + f"{i ^ int(_hex(head, n=12), 16):012x}"

    def _seed_index(self, account: SimAccount, kind: str, remote_id: str) -> int | None:
        if len(remote_id) != 33 or not remote_id.startswith(PREFIX[kind]):
            return None
        try:
            i = int(remote_id[-12:], 16) ^ int(_hex(remote_id[1:21], n=12), 16)
        except ValueError:
            return None
        if 0 <= i < self._count(account, kind) and self._seed_id(account, kind, i) == remote_id:
            return i
        return None

    def _first_before(self, account: SimAccount, kind: str, before: datetime | None) -> int:
        """The first index whose time is < before (times fall as the index grows)."""
        lo, hi = 0, self._count(account, kind)
        if before is None:
            return 0
        while lo < hi:
            mid = (lo + hi) // 2
            if self._seed_time(account, kind, mid)[1] < before:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _seed_sms(self, account: SimAccount, i: int, seeded: Seeded | None = None) -> dict[str, Any]:
        rng, created = seeded or self._seed_time(account, "sms", i)
        own = rng.choice(self._own_numbers(account))
        other = valid_e164(f"+4670{rng.randrange(10**7):07d}")
        if rng.random() < 0.03:
            other = other[:-4] + "0000"  # the sandbox's always-failing recipients
        text = rng.choice(TEXTS)
        roll = rng.random()
        direction = "incoming" if roll < 0.25 else ("outgoing-reply" if roll < 0.3 else "outgoing")
        rec: dict[str, Any] = {
            "id": self._seed_id(account, "sms", i),
            "direction": direction,
            "created": fmt(created),
            "message": text,
            "owner": account.state["user_id"],
        }
        if direction == "incoming":
            rec.update({"from": other, "to": own})
            return rec
        sender = own if rng.random() < 0.7 else rng.choice(["Acme", "Switchbd", "Nordic"])
        parts = sms_parts(text)
        rec.update({"from": sender, "to": other, "parts": parts, "cost": parts * part_cost(other)})
        fate = rng.random()
        if other.endswith("0000") or fate < 0.06:
            rec["status"] = "failed"
        elif fate < 0.12:
            rec["status"] = "sent"
        else:
            rec["status"] = "delivered"
            rec["delivered"] = fmt(
                created + timedelta(seconds=1 + rng.randrange(20), microseconds=rng.randrange(10**6))
            )
        return rec

    def _seed_mms(self, account: SimAccount, i: int, seeded: Seeded | None = None) -> dict[str, Any]:
        rng, created = seeded or self._seed_time(account, "mms", i)
        mid = self._seed_id(account, "mms", i)
        own = rng.choice(self._own_numbers(account))
        other = valid_e164(f"+4673{rng.randrange(10**7):07d}")
        rec: dict[str, Any] = {
            "id": mid,
            "created": fmt(created),
            "message": rng.choice(["Look at this!", "Bild från festen", "Här är kvittot", ""]),
            "images": [f"{mid}-i0"],
            "owner": account.state["user_id"],
        }
        if rng.random() < 0.3:
            rec.update({"direction": "incoming", "from": other, "to": own, "status": "recieved"})  # sic
        else:
            rec.update({"direction": "outgoing", "from": own, "to": other, "cost": MMS_COST})
            rec["status"] = "failed" if rng.random() < 0.05 else "delivered"
            if rec["status"] == "delivered":
                rec["delivered"] = fmt(created + timedelta(seconds=2 + rng.randrange(30)))
        return rec

    def _seed_call(self, account: SimAccount, i: int, seeded: Seeded | None = None) -> dict[str, Any]:
        rng, created = seeded or self._seed_time(account, "calls", i)
        cid = self._seed_id(account, "calls", i)
        own = rng.choice(self._own_numbers(account))
        other = valid_e164(f"+4670{rng.randrange(10**7):07d}")
        incoming = rng.random() < 0.45
        rec: dict[str, Any] = {
            "id": cid,
            "direction": "incoming" if incoming else "outgoing",
            "from": other if incoming else own,
            "to": own if incoming else other,
            "created": fmt(created),
            "timeout": 60,
            "owner": account.state["user_id"],
        }
        roll = rng.random()
        target = valid_e164(f"+4634{rng.randrange(10**6):06d}")
        if roll < 0.1:
            rec.update(
                {
                    "state": "busy",
                    "legs": [{"duration": 0, "from": rec["from"], "to": rec["to"], "state": "busy"}],
                }
            )
            return rec
        if roll < 0.2:
            rec.update(
                {
                    "state": "failed",
                    "legs": [{"duration": 0, "from": rec["from"], "to": rec["to"], "state": "failed"}],
                }
            )
            return rec
        duration = 5 + rng.randrange(600)
        start = created + timedelta(seconds=2 + rng.randrange(15), microseconds=rng.randrange(10**6))
        action = (
            {"connect": target, "result": "success"}
            if incoming
            else {"play": "sound/beep", "result": "success"}
        )
        rec.update(
            {
                "state": "success",
                "start": fmt(start),
                "duration": duration,
                "cost": math.ceil(duration / 60) * CALL_MINUTE_COST,
                "legs": [
                    {
                        "duration": max(duration - 1, 0),
                        "from": rec["from"],
                        "to": target if incoming else rec["to"],
                        "state": "success",
                    }
                ],
                "actions": [action],
            }
        )
        if rng.random() < 0.25:
            rec["actions"].insert(0, {"recordcall": "https://example.invalid/rec", "result": "success"})
            rec["_recording"] = {"id": f"{cid}-r0", "created": rec["created"], "duration": duration}
        return rec

    def _seed(self, account: SimAccount, kind: str, i: int, seeded: Seeded | None = None) -> dict[str, Any]:
        """Seeded item i; `seeded` is its `_seed_time` when the caller has it already."""
        seeders = {"sms": self._seed_sms, "mms": self._seed_mms, "calls": self._seed_call}
        return seeders[kind](account, i, seeded)

    def _image_meta(self, image_id: str, mms: dict[str, Any]) -> dict[str, Any]:
        data = tiny_png(image_id)
        return {
            "id": image_id,
            "mmsid": mms["id"],
            "created": mms["created"],
            "filetype": "png",
            "bytes": len(data),
            "digest": hashlib.sha1(data).hexdigest(),  # noqa: S324 - a content digest, as 46elks sends
        }

    def _seeded_rows(
        self, account: SimAccount, listing: str, before: datetime | None, after: datetime | None
    ) -> Iterator[tuple[datetime, dict[str, Any]]]:
        """Seeded rows of a listing, newest first, lazily. Recordings come from calls and
        images from MMS, so those walk their parent series and map."""
        kind = {"sms": "sms", "mms": "mms", "calls": "calls", "recordings": "calls", "images": "mms"}[listing]
        for i in range(self._first_before(account, kind, before), self._count(account, kind)):
            seeded = self._seed_time(account, kind, i)
            created = seeded[1]
            if after is not None and created <= after:
                return
            rec = self._seed(account, kind, i, seeded)
            if listing == "recordings":
                if "_recording" in rec:
                    yield created, rec["_recording"]
            elif listing == "images":
                for image_id in rec["images"]:
                    yield created, self._image_meta(image_id, rec)
            else:
                yield created, rec

    def _live_rows(
        self, account: SimAccount, listing: str, before: datetime | None, after: datetime | None
    ) -> Iterator[tuple[datetime, dict[str, Any]]]:
        rows = sorted(
            ((parse_ts(r["created"]), r) for r in account.state["live"][listing].values()),
            key=lambda pair: pair[0],
            reverse=True,
        )
        for created, rec in rows:
            if (before is None or created < before) and (after is None or created > after):
                yield created, rec

    def _page(self, rows: Iterator[tuple[datetime, dict[str, Any]]], query: dict[str, str]) -> SimResponse:
        try:
            limit = max(1, min(100, int(query.get("limit") or 100)))
        except ValueError:
            raise Reject(403, "Invalid limit.") from None
        taken = list(itertools.islice(rows, limit + 1))
        body: dict[str, Any] = {"data": [self._public(r) for _, r in taken[:limit]]}
        if len(taken) > limit:
            body["next"] = taken[limit - 1][1]["created"]  # pass as `start` for the next page
        return SimResponse.json(body)

    @staticmethod
    def _bounds(query: dict[str, str]) -> tuple[datetime | None, datetime | None]:
        try:
            before = parse_ts(query["start"]) if query.get("start") else None
            after = parse_ts(query["end"]) if query.get("end") else None
        except ValueError:
            raise Reject(403, "Invalid start or end time.") from None
        return before, after

    def _list(self, account: SimAccount, listing: str, query: dict[str, str]) -> SimResponse:
        before, after = self._bounds(query)
        rows = heapq.merge(
            self._live_rows(account, listing, before, after),
            self._seeded_rows(account, listing, before, after),
            key=lambda pair: pair[0],
            reverse=True,
        )
        return self._page(rows, query)

    def _list_state(self, records: dict[str, dict[str, Any]], query: dict[str, str]) -> SimResponse:
        before, after = self._bounds(query)
        rows = sorted(
            ((parse_ts(r["created"]), r) for r in records.values()), key=lambda p: p[0], reverse=True
        )
        return self._page(
            ((t, r) for t, r in rows if (before is None or t < before) and (after is None or t > after)),
            query,
        )

    @staticmethod
    def _public(rec: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in rec.items() if not k.startswith("_")}
        if rec.get("_dontlog"):
            out.pop("message", None)
        return out

    def _find(self, account: SimAccount, kind: str, remote_id: str) -> dict[str, Any] | None:
        live = account.state["live"][kind].get(remote_id)
        if live is not None:
            return live
        i = self._seed_index(account, kind, remote_id)
        return None if i is None else self._seed(account, kind, i)

    # -- routing ---------------------------------------------------------------------------------------
    def handle(self, request: SimRequest) -> SimResponse:
        account = self.authenticate(request)
        if account is None:
            return SimResponse.text(
                "Authorization failed. Check your API username and password.",
                401,
                {"www-authenticate": 'Basic realm="46elks"'},
            )
        parts = self._split(request.path)
        if not request.path.startswith("/a1/") or not parts:
            return SimResponse.text("Not found.", 404)
        form = request.form() if request.method == "POST" else {}
        try:
            with self._lock:
                return self._route(account, request.method, parts, request.query, form)
        except Reject as exc:
            return SimResponse.text(exc.message, exc.status)

    def _route(
        self, account: SimAccount, method: str, parts: list[str], query: dict[str, str], form: dict[str, str]
    ) -> SimResponse:
        resource, rest = parts[0], parts[1:]
        if resource == "me" and not rest:
            return self._me(account, method, form)
        if resource in ("sms", "mms", "calls") and not rest:
            if method == "GET":
                return self._list(account, resource, query)
            if method == "POST":
                return {"sms": self._send_sms, "mms": self._send_mms, "calls": self._place_call}[resource](
                    account, form
                )
        if resource in ("sms", "mms", "calls") and len(rest) == 1 and method == "GET":
            rec = self._find(account, resource, rest[0])
            if rec is None:
                raise Reject(404, {"sms": "SMS", "mms": "MMS", "calls": "Call"}[resource] + " not found.")
            return SimResponse.json(self._public(rec))
        if resource == "numbers":
            return self._numbers(account, method, rest, query, form)
        if resource == "subaccounts":
            return self._subaccounts(account, method, rest, query, form)
        if resource in ("recordings", "images") and method == "GET":
            if not rest:
                return self._list(account, resource, query)
            if len(rest) == 1:
                return self._media(account, resource, rest[0])
        if resource in ("me", "sms", "mms", "calls", "numbers", "subaccounts", "recordings", "images"):
            raise Reject(405, "Method not allowed.")
        raise Reject(404, "Not found.")

    # -- account ---------------------------------------------------------------------------------------
    def _me(self, account: SimAccount, method: str, form: dict[str, str]) -> SimResponse:
        if method == "POST":
            value = form.get("creditalert", "")
            if not value.isdigit():
                raise Reject(403, "creditalert must be a whole number of credits.")
            account.state["creditalert"] = int(value)
        elif method != "GET":
            raise Reject(405, "Method not allowed.")
        state = account.state
        return SimResponse.json(
            {
                "id": state["user_id"],
                "displayname": "Sandbox " + account.remote_id[:6],
                "mobilenumber": "+46766861004",
                "email": f"{account.remote_id[:8]}@sandbox.invalid",
                "currency": state["currency"],
                "balance": state["balance"],
                "creditalert": state["creditalert"],
            }
        )

    def _charge(self, account: SimAccount, cost: int) -> None:
        payer = account.parent or account
        if payer.state["balance"] < cost:
            raise Reject(402, "Not enough credits. Top up your account.")
        payer.state["balance"] -= cost

    # -- sending ---------------------------------------------------------------------------------------
    def _check_to(self, to: str) -> None:
        if not to:
            raise Reject(403, "Missing recipient: 'to' is required.")
        if not E164.match(to):
            raise Reject(403, "Invalid 'to' number. Use E.164 format, like +46701234567.")

    def _check_url(self, name: str, value: str) -> None:
        if value and not URL.match(value):
            raise Reject(403, f"Invalid '{name}': must be an http or https URL.")

    def _send_sms(self, account: SimAccount, form: dict[str, str]) -> SimResponse:
        sender, to, text = form.get("from", ""), form.get("to", ""), form.get("message", "")
        if not sender:
            raise Reject(403, "Missing sender: 'from' is required.")
        if not (E164.match(sender) or SENDER_ID.match(sender)):
            raise Reject(
                403, "Invalid 'from': use an E.164 number or 3-11 letters and digits starting with a letter."
            )
        self._check_to(to)
        if not text:
            raise Reject(403, "Message is empty.")
        if len(text) > 1600:
            raise Reject(403, "Message is too long.")
        self._check_url("whendelivered", form.get("whendelivered", ""))
        parts = sms_parts(text)
        cost = parts * part_cost(to)
        if form.get("dryrun") == "yes":  # price check only: nothing sent, nothing charged
            return SimResponse.json(
                {
                    "status": "created",
                    "direction": "outgoing",
                    "from": sender,
                    "to": to,
                    "message": text,
                    "estimated_cost": cost,
                    "parts": parts,
                    "dryrun": "yes",
                }
            )
        self._charge(account, cost)
        created = self._now(account)
        rec: dict[str, Any] = {
            "id": self._new_id(account, "s"),
            "direction": "outgoing",
            "from": sender,
            "to": to,
            "message": text,
            "created": fmt(created),
            "parts": parts,
            "cost": cost,
            "status": "created",
            "owner": account.state["user_id"],
        }
        if form.get("flashsms") == "yes":
            rec["flashsms"] = "yes"
        if form.get("dontlog") in ("message", "yes"):
            rec["_dontlog"] = True
        answer = self._public(rec)
        account.state["live"]["sms"][rec["id"]] = rec
        # The reports are queued now; the record takes its final state at once (a later
        # history sync reconciles either way).
        failed = to.endswith("0000")
        url = form.get("whendelivered", "")
        self.sandbox.outbox.schedule(
            self.code, url, urlencode({"id": rec["id"], "status": "sent"}).encode(), FORM, 1.0
        )
        final = {"id": rec["id"], "status": "failed" if failed else "delivered"}
        if not failed:
            final["delivered"] = fmt(created + timedelta(seconds=3))
            rec["delivered"] = final["delivered"]
        rec["status"] = final["status"]
        self.sandbox.outbox.schedule(self.code, url, urlencode(final).encode(), FORM, 3.0)
        return SimResponse.json(answer)

    def _send_mms(self, account: SimAccount, form: dict[str, str]) -> SimResponse:
        sender, to, text, image = (form.get(k, "") for k in ("from", "to", "message", "image"))
        if not sender:
            raise Reject(403, "Missing sender: 'from' is required.")
        if sender != "noreply" and not E164.match(sender):
            raise Reject(403, "Invalid 'from': MMS must be sent from a number or 'noreply'.")
        self._check_to(to)
        if not text and not image:
            raise Reject(403, "An MMS needs a message or an image.")
        self._charge(account, MMS_COST)
        created = self._now(account)
        mid = self._new_id(account, "m")
        rec: dict[str, Any] = {
            "id": mid,
            "direction": "outgoing",
            "from": sender,
            "to": to,
            "message": text,
            "created": fmt(created),
            "cost": MMS_COST,
            "status": "created",
            "owner": account.state["user_id"],
            "images": [f"{mid}-i0"] if image else [],
        }
        answer = self._public(rec)
        answer.pop("images")
        if image:
            account.state["live"]["images"][f"{mid}-i0"] = self._image_meta(f"{mid}-i0", rec)
        rec["status"] = "failed" if to.endswith("0000") else "delivered"
        if rec["status"] == "delivered":
            rec["delivered"] = fmt(created + timedelta(seconds=5))
        account.state["live"]["mms"][mid] = rec
        return SimResponse.json(answer)

    def _place_call(self, account: SimAccount, form: dict[str, str]) -> SimResponse:
        sender, to, voice_start = form.get("from", ""), form.get("to", ""), form.get("voice_start", "")
        if not E164.match(sender):
            raise Reject(403, "Invalid 'from': use a 46elks number in E.164 format.")
        self._check_to(to)
        if not voice_start:
            raise Reject(403, "Missing voice_start.")
        action: dict[str, Any] | None = None
        if not URL.match(voice_start):
            try:
                action = json.loads(voice_start)
            except ValueError:
                action = None
            if not isinstance(action, dict) or not action:
                raise Reject(403, "voice_start must be a URL or a JSON call action.")
        try:
            timeout = int(form.get("timeout") or 60)
        except ValueError:
            timeout = -1
        if not 1 <= timeout <= 600:
            raise Reject(403, "timeout must be between 1 and 600 seconds.")
        self._check_url("whenhangup", form.get("whenhangup", ""))
        created = self._now(account)
        cid = self._new_id(account, "c")
        rec: dict[str, Any] = {
            "id": cid,
            "direction": "outgoing",
            "from": sender,
            "to": to,
            "created": fmt(created),
            "state": "ongoing",
            "timeout": timeout,
            "owner": account.state["user_id"],
        }
        answer = self._public(rec)
        account.state["live"]["calls"][cid] = rec
        outcome = "failed" if to.endswith("0000") else "busy" if to.endswith("1111") else "success"
        self._finish_call(account, rec, outcome, [action] if action else [])
        if outcome == "success" and action is None:
            # voice_start is a URL: 46elks fetches it once the callee answers.
            body = {
                "callid": cid,
                "direction": "outgoing",
                "from": sender,
                "to": to,
                "created": rec["created"],
            }
            body["result"] = "newoutgoing"
            self.sandbox.outbox.schedule(self.code, voice_start, urlencode(body).encode(), FORM, 1.0)
        self.sandbox.outbox.schedule(self.code, form.get("whenhangup", ""), self._hangup_form(rec), FORM, 2.0)
        return SimResponse.json(answer)

    def _finish_call(
        self, account: SimAccount, rec: dict[str, Any], outcome: str, actions: list[dict]
    ) -> None:
        """Give a call its final state (legs, cost, maybe a recording) at once."""
        rec["state"] = outcome
        if outcome != "success":
            rec["legs"] = [{"duration": 0, "from": rec["from"], "to": rec["to"], "state": outcome}]
            return
        duration = 10 + int(_hex(rec["id"], "duration", n=4), 16) % 110
        start = parse_ts(rec["created"]) + timedelta(seconds=4)
        rec.update(
            {
                "start": fmt(start),
                "duration": duration,
                "cost": math.ceil(duration / 60) * CALL_MINUTE_COST,
                "legs": [{"duration": duration, "from": rec["from"], "to": rec["to"], "state": "success"}],
                "actions": [{**a, "result": "success"} for a in actions],
            }
        )
        payer = account.parent or account
        payer.state["balance"] = max(0, payer.state["balance"] - rec["cost"])
        if any("recordcall" in a or "record" in a for a in actions):
            rid = f"{rec['id']}-r0"
            account.state["live"]["recordings"][rid] = {
                "id": rid,
                "created": fmt(start),
                "duration": duration,
            }

    @staticmethod
    def _hangup_form(rec: dict[str, Any]) -> bytes:
        fields = {k: rec[k] for k in ("id", "direction", "created", "from", "to", "state")}
        if rec.get("start"):  # only answered calls carry these
            fields.update(
                {
                    "start": rec["start"],
                    "duration": str(rec["duration"]),
                    "cost": str(rec["cost"]),
                    "actions": json.dumps(rec.get("actions", [])),
                    "legs": json.dumps(rec.get("legs", [])),
                }
            )
        return urlencode(fields).encode()

    # -- numbers ---------------------------------------------------------------------------------------
    def _numbers(
        self, account: SimAccount, method: str, rest: list[str], query: dict[str, str], form: dict[str, str]
    ) -> SimResponse:
        numbers = account.state["numbers"]
        if not rest:
            if method == "GET":
                return self._list_state(numbers, query)
            if method == "POST":
                return self._allocate(account, form)
        elif len(rest) == 1:
            number = numbers.get(rest[0])
            if number is None:
                raise Reject(404, "Number not found.")
            if method == "GET":
                return SimResponse.json(number)
            if method == "POST":
                return SimResponse.json(self._configure(number, form))
        raise Reject(405, "Method not allowed.")

    def _allocate(self, account: SimAccount, form: dict[str, str]) -> SimResponse:
        country = form.get("country", "").lower()
        if not country:
            raise Reject(403, "Missing country.")
        if country not in COUNTRIES:
            raise Reject(403, "No numbers available in that country.")
        caps = [c.strip().lower() for c in (form.get("capabilities") or "sms,voice").split(",") if c.strip()]
        if not caps or any(c not in ("sms", "mms", "voice") for c in caps):
            raise Reject(403, "Invalid capabilities: use sms, mms and/or voice.")
        created = self._now(account)
        account.state["counter"] += 1
        serial = int(_hex(account.remote_id, "alloc", account.state["counter"], n=8), 16)
        prefix = COUNTRIES[country]
        digits = 12 - len(prefix) + 1
        number = {
            "id": "n" + _hex(account.remote_id, "alloc-id", account.state["counter"]),
            "active": "yes",
            "country": country,
            "number": valid_e164(prefix + f"{serial % 10**digits:0{digits}d}"),
            "capabilities": caps,
            "category": "mobile",
            "sms_replies": "yes",
            "created": fmt(created),
            "allocated": fmt(created),
            "expires": fmt(created + timedelta(days=30)),
            "cost": NUMBER_MONTHLY_COST,
        }
        self._configure(number, {k: v for k, v in form.items() if k not in ("country", "capabilities")})
        account.state["numbers"][number["id"]] = number
        return SimResponse.json(number)

    def _configure(self, number: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
        if number.get("active") == "no":
            raise Reject(403, "The number has been deallocated and cannot be changed.")
        updates: dict[str, Any] = {}
        for key in ("sms_url", "mms_url", "voice_start"):
            if key not in form:
                continue
            value = form[key]
            if value.strip().lower() in ("", "none"):  # "none" or " " clears
                updates[key] = None
            elif key == "voice_start" and value.lstrip().startswith("{"):
                try:
                    json.loads(value)
                except ValueError:
                    raise Reject(403, "voice_start must be a URL or a JSON call action.") from None
                updates[key] = value
            else:
                self._check_url(key, value)
                updates[key] = value
        if "name" in form:
            if len(form["name"]) > 50:
                raise Reject(403, "Name is too long (max 50 characters).")
            updates["name"] = form["name"].strip() or None
        if "sms_replies" in form:
            if form["sms_replies"] not in ("yes", "no"):
                raise Reject(403, "sms_replies must be yes or no.")
            updates["sms_replies"] = form["sms_replies"]
        if "active" in form:
            if form["active"] not in ("yes", "no"):
                raise Reject(403, "active must be yes or no.")
            if form["active"] == "no":
                updates["active"] = "no"
                updates["deallocated"] = fmt(datetime.now(UTC))
        for key, value in updates.items():
            if value is None:
                number.pop(key, None)
            else:
                number[key] = value
        return number

    # -- subaccounts ---------------------------------------------------------------------------------
    def _subaccounts(
        self, account: SimAccount, method: str, rest: list[str], query: dict[str, str], form: dict[str, str]
    ) -> SimResponse:
        subs = account.state["subaccounts"]
        if not rest:
            if method == "GET":
                return self._list_state(subs, query)
            if method == "POST":
                name = form.get("name", "").strip()
                if not name:
                    raise Reject(403, "Missing name.")
                created = self._now(account)
                account.state["counter"] += 1
                sub: dict[str, Any] = {
                    "id": _hex(account.remote_id, "sub-live", account.state["counter"]),
                    "secret": _hex(account.remote_id, "secret-live", account.state["counter"]).upper(),
                    "name": name,
                    "created": fmt(created),
                }
                self._update_sub(sub, {k: v for k, v in form.items() if k == "usagelimit"})
                subs[sub["id"]] = sub
                return SimResponse.json(sub)
        elif len(rest) == 1:
            sub = subs.get(rest[0])
            if sub is None:
                raise Reject(404, "Subaccount not found.")
            if method == "GET":
                return SimResponse.json(sub)
            if method == "POST":
                return SimResponse.json(self._update_sub(sub, form))
        raise Reject(405, "Method not allowed.")

    def _update_sub(self, sub: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
        if sub.get("active") == "no":
            raise Reject(403, "The subaccount is deactivated.")
        if "name" in form:
            if not form["name"].strip():
                raise Reject(403, "Name cannot be empty.")
            sub["name"] = form["name"].strip()
        if "usagelimit" in form:
            value = form["usagelimit"].strip()
            if value == "none":
                sub.pop("usagelimit", None)
            elif value.isdigit():
                sub["usagelimit"] = int(value)
            else:
                raise Reject(403, "usagelimit must be a whole number of credits or 'none'.")
        if "secret" in form:
            if len(form["secret"]) < 16:
                raise Reject(403, "The secret must be at least 16 characters.")
            sub["secret"] = form["secret"]
        if form.get("active") == "no":
            sub.update({"active": "no", "deactivated": fmt(datetime.now(UTC))})
            sub.pop("secret", None)  # only active subaccounts have a secret
        return sub

    # -- media ---------------------------------------------------------------------------------------
    def _media(self, account: SimAccount, resource: str, name: str) -> SimResponse:
        stem, dot, ext = name.partition(".")
        if resource == "recordings":
            meta = account.state["live"]["recordings"].get(stem)
            if meta is None and stem.endswith("-r0"):
                call = self._find(account, "calls", stem[:-3])
                meta = call.get("_recording") if call else None
            if meta is None:
                raise Reject(404, "Recording not found.")
            if not dot:
                return SimResponse.json(meta)
            if ext != "wav":
                raise Reject(404, "Recording not found.")
            return SimResponse(200, tiny_wav(stem), {"content-type": "audio/wav"})
        meta = account.state["live"]["images"].get(stem)
        if meta is None and stem.endswith("-i0"):
            mms = self._find(account, "mms", stem[:-3])
            meta = self._image_meta(stem, mms) if mms and stem in mms.get("images", []) else None
        if meta is None:
            raise Reject(404, "Image not found.")
        if not dot:
            return SimResponse.json(meta)
        return SimResponse(200, tiny_png(stem), {"content-type": "image/png"})

    # -- emitting inbound traffic ----------------------------------------------------------------------
    def _inbound_number(self, account: SimAccount, params: dict[str, Any], capability: str) -> dict[str, Any]:
        wanted = params.get("to")
        for number in account.state["numbers"].values():
            if number.get("active") == "no":
                continue
            if (wanted and number["number"] == wanted) or (
                not wanted and capability in number["capabilities"]
            ):
                return number
        return {"number": wanted or "+46766860000", "capabilities": ["sms", "mms", "voice"]}

    def emit(self, account: SimAccount, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if kind in ("sms", "mms"):
                return self._emit_message(account, kind, params)
            if kind in ("call", "voice"):
                return self._emit_call(account, params)
        raise NotImplementedError(f"46elks cannot emit {kind}")

    def _emit_message(self, account: SimAccount, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        number = self._inbound_number(account, params, kind)
        created = self._now(account)
        rid = self._new_id(account, kind[0])
        rec: dict[str, Any] = {
            "id": rid,
            "direction": "incoming",
            "from": str(params.get("from") or "+46701234567"),
            "to": number["number"],
            "created": fmt(created),
            "message": str(params.get("message", "Hello from the sandbox")),
            "owner": account.state["user_id"],
        }
        form = {k: rec[k] for k in ("direction", "id", "from", "to", "created", "message")}
        if kind == "mms":
            rec["status"] = "recieved"  # sic, as the MMS docs spell it
            count = max(1, min(4, int(params.get("images", 1))))
            rec["images"] = [f"{rid}-i{n}" for n in range(count)]
            base = self.sandbox.base_url(self.code)
            for n, image_id in enumerate(rec["images"]):
                account.state["live"]["images"][image_id] = self._image_meta(image_id, rec)
                form["image" if n == 0 else f"image{n + 1}"] = f"{base}/images/{image_id}.png"
        account.state["live"][kind][rid] = rec
        url = number.get(f"{kind}_url") or account.hook(kind)
        self.sandbox.outbox.schedule(
            self.code, url, urlencode(form).encode(), FORM, float(params.get("delay", 0))
        )
        return {
            "kind": kind,
            "id": rid,
            "url": url,
            "from": rec["from"],
            "to": rec["to"],
            "created": rec["created"],
        }

    def _emit_call(self, account: SimAccount, params: dict[str, Any]) -> dict[str, Any]:
        number = self._inbound_number(account, params, "voice")
        created = self._now(account)
        cid = self._new_id(account, "c")
        rec: dict[str, Any] = {
            "id": cid,
            "direction": "incoming",
            "from": str(params.get("from") or "+46701234567"),
            "to": number["number"],
            "created": fmt(created),
            "state": "ongoing",
            "timeout": 60,
            "owner": account.state["user_id"],
        }
        account.state["live"]["calls"][cid] = rec
        voice_start = number.get("voice_start", "")
        voice_url = voice_start if URL.match(voice_start or "") else account.hook("voice")
        start_form = {"direction": "incoming", "callid": cid, "from": rec["from"], "to": rec["to"]}
        start_form["created"] = rec["created"]
        self.sandbox.outbox.schedule(self.code, voice_url, urlencode(start_form).encode(), FORM, 0.0)
        outcome = str(params.get("state") or "success")
        self._finish_call(account, rec, outcome, [{"connect": str(params.get("connect") or "+46701111111")}])
        hangup_url = account.hook("hangup")
        self.sandbox.outbox.schedule(self.code, hangup_url, self._hangup_form(rec), FORM, 1.0)
        return {"kind": "call", "id": cid, "url": voice_url, "hangup_url": hangup_url, "state": outcome}

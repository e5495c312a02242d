"""A dedicated database for `make bench` / `make soak`, next to the dev one (same server),
recreated empty on every run: `python -m bench.db <name>` prints its DATABASE_URL."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql


def base_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    local = Path(__file__).resolve().parent.parent / "var" / "local.env"
    if not url and local.exists():
        for line in local.read_text().splitlines():
            if line.startswith("DATABASE_URL="):
                url = line.split("=", 1)[1].strip()
    if not url:
        sys.exit("DATABASE_URL is not set and var/local.env has none; run scripts/services.sh up")
    return url


def local_setting(key: str) -> str:
    local = Path(__file__).resolve().parent.parent / "var" / "local.env"
    value = os.environ.get(key, "")
    if not value and local.exists():
        for line in local.read_text().splitlines():
            if line.startswith(f"{key}="):
                value = line.split("=", 1)[1].strip()
    return value


def recreate(name: str) -> str:
    if not name.endswith(("_bench", "_soak")):
        sys.exit(f"refusing to recreate {name!r}: only *_bench and *_soak databases")
    parts = urlsplit(base_url())
    target = urlunsplit(parts._replace(path=f"/{name}"))
    # Created by the schema owner (who also migrates it); the app role connects to it.
    owner = local_setting("DATABASE_OWNER_USER")
    if owner:
        password = local_setting("DATABASE_OWNER_PASSWORD")
        host = parts.netloc.rsplit("@", 1)[-1]
        parts = parts._replace(netloc=f"{quote(owner)}{':' + quote(password) if password else ''}@{host}")
    admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        version = conn.execute("SHOW server_version").fetchone()[0]
    print(f"PostgreSQL {version}", file=sys.stderr)
    return target


if __name__ == "__main__":
    print(recreate(sys.argv[1]))

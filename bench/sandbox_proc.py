"""The sandbox as its own process for the scale benchmarks: `python -m bench.sandbox_proc`
prints `PORT <n>` once it listens on 127.0.0.1 (an ephemeral port) and serves until killed.
Accounts are registered over its control API (POST /_sandbox/accounts). No Django here."""

from __future__ import annotations

import sys

from sandbox import Sandbox
from sandbox.server import SandboxServer


def main() -> None:
    server = SandboxServer(Sandbox(), "127.0.0.1", 0)
    print(f"PORT {server.httpd.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

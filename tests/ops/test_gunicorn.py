"""deploy/gunicorn.conf.py: a burst of connections is spread over the worker processes.

With one shared listening socket, whichever gthread worker wakes first accepts a whole
burst (the proxy's keep-alive pool, a provider's webhook burst) and keeps it: the instance
is then held to one core. The configuration gives each worker its own socket
(SO_REUSEPORT), and the kernel spreads the connections.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2
CONNECTIONS = 16

pytestmark = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="reads the sockets from Linux /proc"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _sockets(port: int, state: str) -> set[str]:
    """Inodes of this port's server-side sockets in a TCP state (0A listen, 01 established)."""
    found = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].rpartition(":")[2], 16) == port and fields[3] == state:
                found.add(f"socket:[{fields[9]}]")
    return found


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def _held(pid: int, inodes: set[str]) -> int:
    fd_dir = f"/proc/{pid}/fd"
    held = 0
    for fd in os.listdir(fd_dir):
        try:
            held += os.readlink(f"{fd_dir}/{fd}") in inodes
        except OSError:
            continue
    return held


def _wait(check, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting: {what}")


@pytest.fixture
def gunicorn_server():
    port = _free_port()
    env = {
        **os.environ,
        "GUNICORN_WORKERS": str(WORKERS),
        "GUNICORN_THREADS": "4",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    env.pop("GUNICORN_REUSE_PORT", None)  # the configuration's default
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config=deploy/gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Every worker booted and listening on its own socket before the burst.
        _wait(
            lambda: len(_children(server.pid)) == WORKERS and len(_sockets(port, "0A")) == WORKERS,
            timeout=60,
            what=f"{WORKERS} gunicorn workers listening",
        )
        yield server, port
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_a_burst_of_keep_alive_connections_is_spread_over_the_workers(gunicorn_server):
    server, port = gunicorn_server
    clients = [
        socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(CONNECTIONS)
    ]
    try:
        established = _wait(
            lambda: (found := _sockets(port, "01")) and len(found) == CONNECTIONS and found,
            timeout=10,
            what="the connections established",
        )
        workers = _children(server.pid)

        def spread():
            counts = sorted((_held(pid, established) for pid in workers), reverse=True)
            return counts if sum(counts) == CONNECTIONS else None

        counts = _wait(spread, timeout=10, what="every connection accepted by a worker")
    finally:
        for client in clients:
            client.close()
    # Each worker took a share (all 16 on one worker happens with probability 2^-15).
    assert len(counts) == WORKERS and all(counts), counts

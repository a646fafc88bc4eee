"""Print shell exports that point the test run at PostgreSQL and Redis when they answer.

With REQUIRE_SERVICES=1 (CI), a service that does not answer is an error.
Explicit DATABASE_URL / REDIS_URL in the environment are kept as they are.
"""

import os
import socket
import sys


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    required = os.environ.get("REQUIRE_SERVICES") == "1"
    exports = {}
    if "DATABASE_URL" not in os.environ:
        if _answers("127.0.0.1", 5432):
            exports["DATABASE_URL"] = "postgres://root@127.0.0.1:5432/shop"
        elif required:
            print("PostgreSQL does not answer on 127.0.0.1:5432", file=sys.stderr)
            return 1
    if "REDIS_URL" not in os.environ:
        if _answers("127.0.0.1", 6379):
            exports["REDIS_URL"] = "redis://127.0.0.1:6379/0"
        elif required:
            print("Redis does not answer on 127.0.0.1:6379", file=sys.stderr)
            return 1
    for name, value in exports.items():
        print(f"export {name}={value}")
        print(f"echo 'tests: {name}={value}' >&2")
    return 0


if __name__ == "__main__":
    sys.exit(main())

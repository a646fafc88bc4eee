"""The cluster suite: one real cluster (deploy/cluster.py) per session, driven over HTTP.

Marked `cluster`. It needs nginx, PostgreSQL's server binaries and redis-server (Debian's
packages; `.ci/run` installs what is missing). Locally they are skipped without them; under
CI (`CI=true` or `REQUIRE_SERVICES=1`) a missing one fails. The cluster uses its own
PostgreSQL and Redis on free ports, never the machine's, and is stopped at the end of the
session whatever happens (every process it started is in its own process group).
"""

import atexit
import glob
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from deploy.cluster import NGINX, REDIS_SERVER, Cluster

REQUIRED = os.environ.get("CI") == "true" or os.environ.get("REQUIRE_SERVICES") == "1"


def _missing() -> list[str]:
    missing = []
    if not (shutil.which(NGINX) or os.path.exists(NGINX)):
        missing.append("nginx")
    if not (shutil.which(REDIS_SERVER) or os.path.exists(REDIS_SERVER)):
        missing.append("redis-server")
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not shutil.which("initdb"):
        missing.append("postgresql (initdb, pg_ctl)")
    return missing


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/cluster/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.cluster)


ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "cluster-logs"


def _finish(cluster: Cluster) -> None:
    """Stop every process, keep the logs under artifacts/, remove the data."""
    cluster.stop()
    if (cluster.root / "logs").is_dir():
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
        shutil.copytree(cluster.root / "logs", ARTIFACTS)
    shutil.rmtree(cluster.root, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster():
    missing = _missing()
    if missing:
        message = f"the cluster suite needs {', '.join(missing)}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    # Not under pytest's 0700 temp dir: PostgreSQL runs as `postgres` when we are root.
    root = Path(tempfile.mkdtemp(prefix="shop-cluster-"))
    os.chmod(root, 0o755)
    cluster = Cluster(root)
    atexit.register(_finish, cluster)  # even if the session is interrupted
    try:
        cluster.start()
        yield cluster
    finally:
        atexit.unregister(_finish)
        _finish(cluster)

"""The production shape on one machine: its own PostgreSQL and Redis, two gunicorn instances
behind nginx, two Celery workers and one beat.

    python deploy/cluster.py start [--dir .cluster]    # prints the URLs, returns
    python deploy/cluster.py stop  [--dir .cluster]    # stops everything it started
    python deploy/cluster.py status [--dir .cluster]

(`make cluster` / `make cluster-stop`.) Nothing here touches the machine's own PostgreSQL or
Redis: the cluster makes a PostgreSQL data directory (initdb, as the `postgres` user when run
as root) and a Redis of its own on free ports under its directory, which the fault tests stop
and restart. Every process runs in its own process group and is listed in `state.json`, so
`stop` (or the test suite's teardown) ends all of them, even after a crash of the caller.

Workers and the beat run under a restart loop, as a process supervisor would run them in
production: kombu's Redis transport can crash a worker while Redis restarts (restoring the
messages it held on a connection already gone), and a crashed worker must come back by itself.

The test suite (tests/cluster) drives the same `Cluster` class.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(os.environ.get("CLUSTER_VENV_BIN", ROOT / ".venv" / "bin"))
PYTHON = str(VENV_BIN / "python")
NGINX = os.environ.get("NGINX", shutil.which("nginx") or "/usr/sbin/nginx")
REDIS_SERVER = os.environ.get("REDIS_SERVER", shutil.which("redis-server") or "redis-server")
WEBHOOK_SECRET = "whsec_cluster_dummy_gateway"


def _pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"PostgreSQL's {name} was not found (apt-get install postgresql)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb and pg_ctl refuse root: run them as `postgres` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class Cluster:
    """One cluster under `root`; `state.json` there records ports and process ids."""

    def __init__(self, root: Path | str, *, webs: int = 2, workers: int = 2, extra_env=None):
        self.root = Path(root).resolve()
        self.webs = webs
        self.workers = workers
        self.extra_env = dict(extra_env or {})
        self.state_file = self.root / "state.json"
        self.state: dict = {"ports": {}, "procs": {}}
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())

    # -- paths, ports, environment ---------------------------------------------------------
    @property
    def ports(self) -> dict:
        return self.state["ports"]

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def mail_dir(self) -> Path:
        return self.root / "mail"

    @property
    def pgdata(self) -> Path:
        return self.root / "pg" / "data"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    def web_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[f'web{index}']}"

    @property
    def database_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.ports['postgres']}/shop"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}"

    def env(self) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "CELERY_", "PYTEST_"))
            and key not in {"DATABASE_URL", "REDIS_URL", "TEST_DATABASE_NAME", "CACHE_KEY_PREFIX"}
        }
        env.update(
            {
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "false",
                "DJANGO_SECRET_KEY": "cluster-only-secret-key-4c1f8e2a9b7d6e5f3a2c1b0d9e8f7a6b",
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "DATABASE_URL": self.database_url,
                "DATABASE_CONN_MAX_AGE": "60",
                "DATABASE_CONNECT_TIMEOUT": "2",
                "REDIS_URL": f"{self.redis_url}/0",
                "CACHE_KEY_PREFIX": "cluster",
                "CELERY_BROKER_URL": f"{self.redis_url}/1",
                "CELERY_RESULT_BACKEND": f"{self.redis_url}/2",
                # A message held by a worker that died is handed out again after this long.
                "CELERY_VISIBILITY_TIMEOUT": "8",
                "CELERY_UNACKED_RESTORE_SECONDS": "2",
                "EMAIL_URL": f"filemail:///{self.mail_dir}",
                "SITE_URL": self.url if "proxy" in self.ports else "http://127.0.0.1",
                # Exactly one proxy (nginx) in front: X-Forwarded-For's right-most address.
                "TRUSTED_PROXY_COUNT": "1",
                "TRUSTED_PROXY_NETWORKS": "127.0.0.1/32",
                "LOG_FORMAT": "json",
                "METRICS_ENABLED": "true",
                "PROMETHEUS_MULTIPROC_DIR": str(self.root / "prometheus"),
                "DUMMY_GATEWAY_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "DUMMY_GATEWAY_SETTLE_DELAY_SECONDS": "3",
                # Fast schedule so the fault tests see the beat's effects in seconds.
                "RESERVATION_RELEASE_SECONDS": "3",
                "BEAT_HEARTBEAT_SECONDS": "2",
                "OUTBOX_SWEEP_SECONDS": "3",
                "OUTBOX_SWEEP_GRACE_SECONDS": "5",
                "OUTBOX_SWEEP_LEASE_SECONDS": "10",
                "HEALTHZ_BEAT_MAX_AGE_SECONDS": "6",
                "HEALTHZ_WORKER_TIMEOUT_SECONDS": "1.0",
                # One machine plays every shopper: per-IP throttles and fraud velocity rules
                # are raised; the password-reset throttle stays low (the Redis test uses it).
                "THROTTLE_ANON": "100000/min",
                "THROTTLE_USER": "100000/min",
                "THROTTLE_LOGIN": "100000/min",
                "THROTTLE_REFRESH": "100000/min",
                "THROTTLE_REGISTER": "100000/min",
                "THROTTLE_CHECKOUT": "100000/min",
                "THROTTLE_PASSWORD_RESET": "5/min",
                "FRAUD_NEW_ACCOUNT_HOURS": "0",
                "FRAUD_MAX_ORDERS_PER_HOUR": "100000",
                "FRAUD_MAX_DECLINES_PER_HOUR": "100000",
                "FRAUD_AMOUNT_THRESHOLD": "100000.00",
            }
        )
        env.update(self.extra_env)
        return env

    # -- state ---------------------------------------------------------------------------
    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))

    def _spawn(self, name: str, cmd: list[str], *, cwd: Path = ROOT) -> int:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 (kept open by the child)
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped as a whole
        )
        log.close()
        self.state["procs"][name] = proc.pid
        self._save()
        return proc.pid

    def pid(self, name: str) -> int | None:
        return self.state["procs"].get(name)

    def supervised_pids(self, name: str) -> list[int]:
        """The pids the restart loop of `name` runs now: they change when the loop restarts
        the process, while `pid(name)` (the loop's own) does not."""
        loop = self.pid(name)
        children = []
        for stat_path in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat_path) as stat:
                    fields = stat.read().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(fields[1]) == loop and fields[0] != "Z":
                children.append(int(stat_path.split("/")[2]))
        return sorted(children)

    @staticmethod
    def _alive(pid: int | None) -> bool:
        if not pid:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        # A zombie (our child, not reaped yet) is dead for our purposes.
        try:
            with open(f"/proc/{pid}/stat") as stat:
                return stat.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def _reap(self, pid: int) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)

    def stop_process(self, name: str, *, sig=signal.SIGTERM, timeout: float = 20) -> None:
        """Signal a process's whole group, wait, then SIGKILL what is left."""
        pid = self.state["procs"].pop(name, None)
        self._save()
        if not pid:
            return
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._reap(pid)
            if not self._alive(pid):
                break
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)  # stragglers of the group (pool children)
        self._reap(pid)

    def kill_process(self, name: str) -> None:
        """SIGKILL a process and its children at once, as a crashed machine would."""
        self.stop_process(name, sig=signal.SIGKILL, timeout=5)

    # -- PostgreSQL ------------------------------------------------------------------------
    def _pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = _as_postgres_user([_pg_bin("pg_ctl"), "-D", str(self.pgdata), *args])
        return subprocess.run(cmd, capture_output=True, text=True, check=check, timeout=120)

    def postgres_init(self) -> None:
        pg_root = self.root / "pg"
        pg_root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(pg_root, "postgres", "postgres")
        if not (self.pgdata / "PG_VERSION").exists():
            cmd = [
                _pg_bin("initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ]
            subprocess.run(
                _as_postgres_user(cmd), capture_output=True, text=True, check=True, timeout=120
            )

    def postgres_start(self) -> None:
        options = (
            f"-p {self.ports['postgres']} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.root / 'pg'} -c max_connections=200 "
            "-c fsync=off -c full_page_writes=off -c shared_buffers=64MB"
        )
        self._pg_ctl("-o", options, "-l", str(self.root / "pg" / "postgres.log"), "-w", "start")
        wait_for(lambda: port_answers(self.ports["postgres"]), timeout=30, what="PostgreSQL")

    def postgres_stop(self) -> None:
        """A fast shutdown: connections are cut, committed work is kept."""
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("-m", "fast", "-w", "stop", check=False)

    def postgres_create_database(self) -> None:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.ports["postgres"], user="postgres", dbname="postgres"
        ) as conn:
            conn.autocommit = True
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'shop'").fetchone()
            if not exists:
                conn.execute("CREATE DATABASE shop")

    def db(self):
        """A psycopg connection to the cluster's database (autocommit)."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.ports["postgres"],
            user="postgres",
            dbname="shop",
            autocommit=True,
        )

    # -- Redis -----------------------------------------------------------------------------
    def redis_start(self) -> None:
        data = self.root / "redis"
        data.mkdir(parents=True, exist_ok=True)
        self._spawn(
            "redis",
            [
                REDIS_SERVER,
                "--port",
                str(self.ports["redis"]),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(data),
                "--save",
                "",
                # The broker's queue survives a restart (see deploy/README.md).
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--daemonize",
                "no",
            ],
        )
        wait_for(lambda: port_answers(self.ports["redis"]), timeout=20, what="Redis")

    def redis_stop(self) -> None:
        """SHUTDOWN (the AOF is written), then wait for the process to go."""
        try:
            with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=2) as s:
                s.sendall(b"SHUTDOWN\r\n")
                s.recv(64)
        except OSError:
            pass
        pid = self.pid("redis")
        with contextlib.suppress(TimeoutError):
            wait_for(lambda: (self._reap(pid), not self._alive(pid))[1], timeout=10, what="redis")
        self.stop_process("redis")

    # -- the application -------------------------------------------------------------------
    def manage(self, *args: str, check: bool = True, timeout: float = 300):
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=timeout,
        )

    def web_start(self, index: int) -> None:
        port = self.ports[f"web{index}"]
        self._spawn(
            f"web{index}",
            [
                str(VENV_BIN / "gunicorn"),
                "-c",
                str(ROOT / "deploy" / "gunicorn.conf.py"),
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--name",
                f"shop-web{index}",
            ],
        )

    @staticmethod
    def _supervised(cmd: list[str]) -> list[str]:
        """Restart the command whenever it exits, as systemd or compose's `restart:` would.

        The loop and the process share one process group: stopping or SIGKILLing the group
        ends both, so only an exit of the process on its own (a crash) brings it back.
        """
        return ["sh", "-c", 'while true; do "$@"; sleep 1; done', "supervise", *cmd]

    def worker_start(self, index: int) -> None:
        self._spawn(
            f"worker{index}",
            self._supervised(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "-n",
                    f"w{index}@%h",
                    "--concurrency",
                    "2",
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel",
                    "INFO",
                ]
            ),
        )

    def beat_start(self) -> None:
        self._spawn(
            "beat",
            self._supervised(
                [
                    str(VENV_BIN / "celery"),
                    "-A",
                    "config",
                    "beat",
                    "--schedule",
                    str(self.root / "beat-schedule"),
                    "--loglevel",
                    "INFO",
                ]
            ),
        )

    def proxy_start(self) -> None:
        run = self.root / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (run / "tmp" / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(run / "tmp" / sub, 0o777)  # noqa: S103 (nginx workers run as nobody)
        upstreams = "\n".join(
            f"        server 127.0.0.1:{self.ports[f'web{i}']} max_fails=1 fail_timeout=3s;"
            for i in range(1, self.webs + 1)
        )
        template = (ROOT / "deploy" / "nginx.conf.template").read_text()
        conf = (
            template.replace("{{RUN}}", str(run))
            .replace("{{UPSTREAMS}}", upstreams)
            .replace("{{PORT}}", str(self.ports["proxy"]))
        )
        (run / "nginx.conf").write_text(conf)
        self._spawn(
            "proxy",
            [NGINX, "-p", str(run), "-c", str(run / "nginx.conf"), "-g", "daemon off;"],
        )

    def http(self, path: str, *, base: str | None = None, timeout: float = 5):
        """GET a path; (status, body bytes, headers)."""
        request = urllib.request.Request((base or self.url) + path)  # noqa: S310 (http only)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return response.status, response.read(), response.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers
        except OSError:
            return 0, b"", {}

    def health(self, base: str | None = None) -> dict:
        status, body, _ = self.http("/healthz", base=base, timeout=10)
        try:
            return {"status": status, **json.loads(body or b"{}")}
        except ValueError:
            return {"status": status}

    def wait_web(self, index: int, timeout: float = 90) -> None:
        base = self.web_url(index)
        wait_for(
            lambda: self.health(base)["status"] == 200,
            timeout=timeout,
            what=f"web{index} /healthz",
            interval=0.5,
        )

    def wait_workers(self, count: int, timeout: float = 90) -> None:
        wait_for(
            lambda: self.health().get("workers_answering", 0) >= count,
            timeout=timeout,
            what=f"{count} Celery workers answering",
            interval=0.5,
        )

    def wait_beat(self, timeout: float = 60) -> None:
        wait_for(
            lambda: self.health().get("beat") == "ok",
            timeout=timeout,
            what="the beat's heartbeat",
            interval=0.5,
        )

    # -- the whole -------------------------------------------------------------------------
    def start(self) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.state["procs"]:
            raise RuntimeError(f"a cluster already runs from {self.root}; stop it first")
        names = ["postgres", "redis", "proxy"] + [f"web{i}" for i in range(1, self.webs + 1)]
        self.state["ports"] = {name: free_port() for name in names}
        self._save()
        for sub in ("prometheus", "mail"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
            (self.root / sub).mkdir(parents=True)
        try:
            self.postgres_init()
            self.postgres_start()
            self.postgres_create_database()
            self.redis_start()
            self.manage("migrate", "--noinput")
            for i in range(1, self.webs + 1):
                self.web_start(i)
            for i in range(1, self.workers + 1):
                self.worker_start(i)
            self.beat_start()
            self.proxy_start()
            wait_for(lambda: port_answers(self.ports["proxy"]), timeout=20, what="nginx")
            for i in range(1, self.webs + 1):
                self.wait_web(i)
            self.wait_workers(self.workers)
            self.wait_beat()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop everything this cluster started, in reverse order; never raises."""
        order = ["proxy", "beat"]
        order += sorted(n for n in self.state["procs"] if n.startswith(("web", "worker")))
        for name in order:
            try:
                self.stop_process(name)
            except Exception as exc:  # keep stopping the rest
                print(f"cluster: stopping {name}: {exc}", file=sys.stderr)
        try:
            if "redis" in self.state["procs"]:
                self.redis_stop()
        except Exception as exc:
            print(f"cluster: stopping redis: {exc}", file=sys.stderr)
        for name in list(self.state["procs"]):
            self.stop_process(name, sig=signal.SIGKILL, timeout=5)
        try:
            self.postgres_stop()
        except Exception as exc:
            print(f"cluster: stopping postgres: {exc}", file=sys.stderr)
        self._save()

    def processes(self) -> dict[str, bool]:
        return {name: self._alive(pid) for name, pid in self.state["procs"].items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", default=str(ROOT / ".cluster"), help="state, data and logs")
    args = parser.parse_args(argv)
    cluster = Cluster(args.dir)
    if args.command == "start":
        cluster.start()
        print(f"shop (nginx)   {cluster.url}/   API {cluster.url}/api/v1/")
        for i in range(1, cluster.webs + 1):
            print(f"web{i} (direct) {cluster.web_url(i)}/   metrics {cluster.web_url(i)}/metrics")
        print(f"health         {cluster.url}/healthz")
        print(f"PostgreSQL     {cluster.database_url}")
        print(f"Redis          {cluster.redis_url}")
        print(f"logs (JSON)    {cluster.logs}/   emails {cluster.mail_dir}/")
        print("stop with      make cluster-stop")
    elif args.command == "stop":
        cluster.stop()
        print("cluster stopped")
    else:
        print(json.dumps({"ports": cluster.ports, "processes": cluster.processes()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

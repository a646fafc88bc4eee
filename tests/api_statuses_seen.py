"""Pytest plugin: every error status the schema documents is answered somewhere in the suite.

Each answer under /api/v1/ (test client, live server, the fuzz's WSGI calls) is recorded as
(method, path, status). At the end of a complete run under CI (`CI=true` or
`REQUIRE_SERVICES=1`, every test file collected, nothing deselected, nothing failed), each
documented (operation, error status) that no test provoked fails the run, listed in
artifacts/api-statuses-unseen.txt. Set API_STATUSES_REPORT=1 to write the list on any run.

No status is exempt: the ones every operation documents are provoked on every operation by
tests/ops (400 `bad_request` and 404 `not_found` by the crafted-input tests, 500 and 503,
the shared `ServerError`/`ServiceUnavailable` responses, by test_api_contract.py).
"""

import os
import re
from pathlib import Path

from django.core.handlers.base import BaseHandler

SEEN: set[tuple[str, str, int]] = set()
_state = {"deselected": False, "files": set()}
ROOT = Path(__file__).resolve().parent.parent


def _recording(get_response):
    def get_response_recorded(self, request):
        response = get_response(self, request)
        if request.path.startswith("/api/v1/"):
            SEEN.add((request.method, request.path, response.status_code))
        return response

    return get_response_recorded


def pytest_configure(config):
    BaseHandler.get_response = _recording(BaseHandler.get_response)


def pytest_deselected(items):
    if items:
        _state["deselected"] = True


def pytest_collection_modifyitems(session, config, items):
    _state["files"] = {Path(str(item.fspath)).resolve() for item in items}


def unseen_statuses() -> list[str]:
    """Return `METHOD path status` for each documented error status no answer had."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    missing = []
    for path, item in schema["paths"].items():
        pattern = re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path)) + "$")
        for method, operation in item.items():
            for status in operation["responses"]:
                if status < "400":
                    continue
                if not any(
                    m == method.upper() and s == int(status) and pattern.match(p)
                    for m, p, s in SEEN
                ):
                    missing.append(f"{method.upper()} {path} {status}")
    return missing


def pytest_sessionfinish(session, exitstatus):
    every_file = {p.resolve() for p in (ROOT / "tests").rglob("test_*.py")}
    complete = (
        not _state["deselected"]
        and every_file <= _state["files"]
        and session.testsfailed == 0
        and exitstatus == 0
    )
    enforce = complete and (
        os.environ.get("CI") == "true" or os.environ.get("REQUIRE_SERVICES") == "1"
    )
    if not (enforce or os.environ.get("API_STATUSES_REPORT") == "1"):
        return
    missing = unseen_statuses()
    report = ROOT / "artifacts" / "api-statuses-unseen.txt"
    report.parent.mkdir(exist_ok=True)
    report.write_text("".join(f"{line}\n" for line in missing))
    if missing and enforce:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        reporter.write_line(
            f"{len(missing)} documented error statuses were never answered in this run "
            f"(see {report}); provoke each in a test or stop documenting it:",
            red=True,
        )
        for line in missing:
            reporter.write_line(f"  {line}")
        session.exitstatus = 1

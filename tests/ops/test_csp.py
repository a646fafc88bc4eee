"""Every page, the admin and the API docs carry the Content-Security-Policy; our templates
need nothing inline (the browser suite checks the same in Chromium)."""

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE), "inline <script>"),
    (re.compile(r"<style\b", re.IGNORECASE), "<style> element"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "style= attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "on*= event handler"),
    (re.compile(r"javascript:", re.IGNORECASE), "javascript: URL"),
]


def _policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {
        part.split()[0]: " ".join(part.split()[1:])
        for part in (p.strip() for p in header.split(";"))
        if part
    }


@pytest.mark.parametrize(
    "path",
    ["/", "/cart/", "/account/login/", "/admin/login/", "/api/docs/", "/no-such-page/", "/a%00/"],
)
def test_pages_admin_and_docs_carry_a_policy_without_inline_script(path):
    response = Client().get(path)
    policy = _policy(response)
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]


def test_the_api_docs_load_their_start_script_from_a_file():
    client = Client()
    client.force_login(UserFactory())
    page = client.get("/api/docs/").content.decode()
    assert not INLINE[0][0].search(page) and "<style" not in page
    script = client.get("/api/docs/?script")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def test_our_templates_need_nothing_inline():
    found = []
    folders = [ROOT / "templates", *ROOT.glob("*/templates")]  # project and app templates
    for template in sorted({path for folder in folders for path in folder.rglob("*.html")}):
        text = template.read_text()
        for pattern, what in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(ROOT)}:{line}: {what}")
    assert not found, "move these into static files (the CSP blocks them):\n" + "\n".join(found)

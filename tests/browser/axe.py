"""Run axe-core (pinned in package.json, installed by `npm ci`) inside a Playwright page."""

from pathlib import Path

import pytest

from .conftest import ROOT, _unavailable

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page, *, impacts=BLOCKING_IMPACTS) -> list[dict]:
    """Return axe-core's violations on the page whose impact is one of `impacts`."""
    if not Path(AXE_JS).is_file():
        _unavailable(f"axe-core not found at {AXE_JS} (run `npm ci`)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, which the page's CSP does not govern
        # (add_script_tag would insert an inline <script> that the CSP rightly blocks).
        page.evaluate(Path(AXE_JS).read_text())
        assert page.evaluate("() => typeof window.axe !== 'undefined'"), "axe-core did not load"
    result = page.evaluate(
        """async (tags) => await window.axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
        })""",
        AXE_TAGS,
    )
    return [v for v in result["violations"] if v.get("impact") in impacts]


def _describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        lines.append(
            f"- [{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({len(violation['nodes'])} node(s): {targets})"
        )
    return "\n".join(lines)


def assert_accessible(page, what: str = "") -> None:
    """Fail when axe-core finds a serious or critical violation on the page."""
    violations = axe_violations(page)
    if violations:
        where = what or page.url
        pytest.fail(
            f"axe-core found {len(violations)} serious/critical violation(s) on {where}:\n"
            + _describe(violations),
            pytrace=False,
        )

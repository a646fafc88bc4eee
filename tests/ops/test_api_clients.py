"""The served schema is good enough to generate clients from, and those clients work.

- openapi-spec-validator accepts it;
- every operation has a summary, a tag, documented errors in the shared shape with their
  codes as an enum, and JSON request bodies (multipart only beside a file upload);
- openapi-typescript (pinned in package.json) turns it into types with no warning, and a
  shopper journey written against them (tests/ops/clients/journey.ts) type-checks under
  `tsc --strict` with no casts, then runs against a live server;
- openapi-python-client generates a client with no warning, which imports and checks out
  against a live server (tests/ops/clients/checkout.py).

openapi-python-client pins its own ruff, httpx, attrs, pydantic...; it is kept out of the
project's virtualenv: the test makes one for it under .cache/ (git-ignored) once per
version and reuses it (about 30 s the first time).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from openapi_spec_validator import validate

from inventory import services as inventory_services
from tests.factories import DEFAULT_PASSWORD, CategoryFactory, ProductFactory, UserFactory

ROOT = Path(settings.BASE_DIR)
CLIENTS = Path(__file__).parent / "clients"
CACHE = ROOT / ".cache" / "api-clients"
NODE_BIN = ROOT / "node_modules" / ".bin"
OPENAPI_PYTHON_CLIENT = "openapi-python-client==0.29.1"
PYTHON_DATEUTIL = "python-dateutil==2.9.0.post0"  # the generated client parses dates with it
REQUIRED = os.environ.get("CI") == "true" or os.environ.get("REQUIRE_SERVICES") == "1"

ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _missing(reason: str):
    if REQUIRED:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture(scope="module")
def schema_file(schema, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("schema") / "openapi.json"
    path.write_bytes(OpenApiJsonRenderer().render(schema))
    return path


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", operation


def test_schema_passes_openapi_spec_validator(schema_file):
    validate(json.loads(schema_file.read_text()))


def _has_binary(schema: dict, components: dict) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return any(prop.get("format") == "binary" for prop in schema.get("properties", {}).values())


def test_every_operation_follows_the_conventions(schema):
    """Summary, tag, errors in the shared shape with code enums, JSON bodies (README, API)."""
    components = schema["components"]["schemas"]
    problems = []
    for label, operation in _operations(schema):
        if not operation.get("summary"):
            problems.append(f"{label}: no summary")
        if not operation.get("tags"):
            problems.append(f"{label}: no tag")
        errors = {s: r for s, r in operation["responses"].items() if s >= "400"}
        if not errors:
            problems.append(f"{label}: documents no error response")
        for status, response in errors.items():
            if "$ref" in response:  # a shared response (500, 503)
                response = schema["components"]["responses"][response["$ref"].rsplit("/")[-1]]
            body = response.get("content", {}).get("application/json", {}).get("schema", {})
            parts = body.get("allOf", [])
            enum = parts[1]["properties"]["code"].get("enum") if len(parts) == 2 else None
            if not parts or parts[0] != ERROR_REF or not enum:
                problems.append(f"{label} {status}: not the shared error shape with a code enum")
            elif parts[1].get("additionalProperties") is not False:
                problems.append(f"{label} {status}: an error body may carry undocumented fields")
        content = operation.get("requestBody", {}).get("content", {})
        for media_type, media in content.items():
            upload = media_type == "multipart/form-data" and _has_binary(
                media["schema"], components
            )
            if media_type != "application/json" and not upload:
                problems.append(f"{label}: request body as {media_type}")
    assert not problems, "\n".join(problems)


def test_public_reads_need_no_token_and_the_rest_do(schema):
    paths = schema["paths"]
    for path in ("/api/v1/products/", "/api/v1/products/{slug}/", "/api/v1/categories/"):
        assert not paths[path]["get"].get("security"), path
    assert not paths["/api/v1/auth/login/"]["post"].get("security")
    assert paths["/api/v1/products/"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/api/v1/cart/"]["get"]["security"] == [{"bearerAuth": []}]


def test_always_sent_fields_are_required_in_answers(schema):
    components = schema["components"]["schemas"]
    assert set(components["PaginatedOrderListList"]["required"]) == {
        "count",
        "next",
        "previous",
        "results",
    }
    assert "slug" in components["Product"]["required"]
    assert set(components["Session"]["required"]) == set(components["Session"]["properties"])
    assert {"expires_in", "refresh_expires_in"} <= set(components["TokenPair"]["required"])


def test_docs_page_opens_with_the_auth_flow(schema):
    description = schema["info"]["description"]
    for words in ("/api/v1/auth/login/", "Bearer", "expires_in", "token_rotated", "token_reused"):
        assert words in description


# ------------------------------------------------------------------------------
# Generated clients
# ------------------------------------------------------------------------------
@pytest.fixture
def shop(transactional_db):
    """A verified shopper and a product in stock, committed for a live server."""
    coffee = CategoryFactory(slug="coffee")
    product = ProductFactory(category=coffee, price="12.50")
    stock_item = inventory_services.stock_item_for_product(product=product)
    inventory_services.stock_receive(stock_item=stock_item, quantity=20)
    return UserFactory(email="journey@example.com")


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"
    return result


def _typescript_workdir(schema_file) -> Path:
    """Generate the types beside a copy of the journey; fail on any generator warning."""
    if not (NODE_BIN / "openapi-typescript").exists() or not (NODE_BIN / "tsc").exists():
        _missing("openapi-typescript/typescript not installed (npm ci)")
    workdir = CACHE / "ts"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    for name in ("journey.ts", "node-globals.d.ts", "tsconfig.json"):
        shutil.copy(CLIENTS / name, workdir / name)
    tsconfig = json.loads((workdir / "tsconfig.json").read_text())
    tsconfig["compilerOptions"]["outDir"] = "out"
    (workdir / "tsconfig.json").write_text(json.dumps(tsconfig))
    result = _run([NODE_BIN / "openapi-typescript", schema_file, "-o", workdir / "api.d.ts"])
    output = result.stdout + result.stderr
    assert not re.search(r"warn|error|⚠", output, re.IGNORECASE), output
    return workdir


def test_typescript_journey_has_no_casts():
    code = (CLIENTS / "journey.ts").read_text()
    lines = [line for line in code.splitlines() if not line.strip().startswith(("//", "/*", "*"))]
    casts = [
        line
        for line in lines
        if re.search(r"\bas\s+(?!const\b)\w|<any>|:\s*any\b|@ts-|\w!\.", line)
        and "import" not in line
    ]
    assert not casts, casts


def test_typescript_types_type_check_and_run_a_shopper_journey(schema_file, shop, live_server):
    workdir = _typescript_workdir(schema_file)
    _run([NODE_BIN / "tsc", "-p", workdir / "tsconfig.json"])  # --strict, from tsconfig
    result = _run(
        [
            "node",
            workdir / "out" / "journey.js",
            live_server.url,
            shop.email,
            DEFAULT_PASSWORD,
            str(uuid.uuid4()),
        ]
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (outcome["status"], outcome["payment"]) == ("paid", "succeeded")
    # Three calls saw a dead access token at once; one refresh served them all.
    assert outcome["refreshes"] == 1


def _generator_python() -> Path:
    """Return the python of a virtualenv holding openapi-python-client, made once."""
    venv = CACHE / ("venv-" + re.sub(r"\W+", "-", OPENAPI_PYTHON_CLIENT))
    python = venv / "bin" / "python"
    if not (venv / "bin" / "openapi-python-client").exists():
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", venv])
        try:
            _run(
                [python, "-m", "pip", "install", "--quiet", OPENAPI_PYTHON_CLIENT, PYTHON_DATEUTIL]
            )
        except AssertionError as exc:
            shutil.rmtree(venv, ignore_errors=True)
            _missing(f"could not install {OPENAPI_PYTHON_CLIENT}: {exc}")
    return python


def test_generated_python_client_imports_and_checks_out(schema_file, shop, live_server, tmp_path):
    python = _generator_python()
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "project_name_override": "shop-api-client",
                "package_name_override": "shop_api_client",
                "post_hooks": [],
            }
        )
    )
    out = tmp_path / "client"
    result = _run(
        [
            python.parent / "openapi-python-client",
            "generate",
            "--path",
            schema_file,
            "--config",
            config,
            "--output-path",
            out,
        ]
    )
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stdout + result.stderr
    # Every generated module imports (a bad schema leaves modules that do not).
    _run(
        [
            python,
            "-c",
            "import importlib, pkgutil, shop_api_client as p\n"
            "for m in pkgutil.walk_packages(p.__path__, 'shop_api_client.'):\n"
            "    importlib.import_module(m.name)",
        ],
        env={**os.environ, "PYTHONPATH": str(out)},
    )
    result = _run(
        [
            python,
            CLIENTS / "checkout.py",
            live_server.url,
            shop.email,
            DEFAULT_PASSWORD,
            str(uuid.uuid4()),
        ],
        env={**os.environ, "PYTHONPATH": str(out)},
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert (outcome["status"], outcome["payment"]) == ("paid", "succeeded")
    assert outcome["rotated"] == "token_rotated"

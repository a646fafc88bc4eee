"""Check an answer against what the served schema documents for its operation.

The same questions the fuzz's schemathesis checks ask (status_code_conformance,
content_type_conformance, response_schema_conformance), for answers that tests provoke
with the Django test client: is the status documented for this operation, in this media
type, and does the body match the documented schema (OpenAPI 3.0: JSON Schema draft 4, as
schemathesis validates it)?
"""

import re

from drf_spectacular.generators import SchemaGenerator
from jsonschema import Draft4Validator


def served_schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    """Yield (method, path template, operation) for every operation of the schema."""
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def template_for(schema: dict, path: str) -> str | None:
    """Return the path template a concrete path belongs to (the most literal one)."""
    path = path.split("?", 1)[0]
    matches = []
    for template in schema["paths"]:
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            matches.append(template)
    return min(matches, key=lambda t: t.count("{"), default=None)


def documented_response(schema: dict, method: str, template: str, status: int) -> dict | None:
    """Return the response object documented for the status (shared ones resolved)."""
    responses = schema["paths"][template][method.lower()]["responses"]
    response = responses.get(str(status))
    if response is not None and "$ref" in response:
        response = schema["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def _draft4(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema (`type: [..., "null"]`)."""
    if isinstance(node, list):
        return [_draft4(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _draft4(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "type" in node:
            node["type"] = [node["type"], "null"]
        elif "enum" in node:
            node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def body_problems(schema: dict, body_schema: dict, body) -> list[str]:
    """Return why the body does not match the body schema ([] when it does)."""
    # "#/components/..." references resolve against the root: carry the components along.
    root = _draft4({**body_schema, "components": schema["components"]})
    validator = Draft4Validator(root)
    return [
        f"{'/'.join(map(str, error.absolute_path)) or 'body'}: {error.message}"
        for error in validator.iter_errors(body)
    ]


def response_problems(schema: dict, method: str, path: str, response) -> list[str]:
    """Return why the answer is not what the schema documents for `METHOD path` ([] if it is)."""
    template = path if path in schema["paths"] else template_for(schema, path)
    label = f"{method.upper()} {template or path} -> {response.status_code}"
    if template is None or method.lower() not in schema["paths"][template]:
        return [f"{label}: no such operation in the schema"]
    documented = documented_response(schema, method, template, response.status_code)
    if documented is None:
        return [f"{label}: status not documented for this operation"]
    content = documented.get("content", {})
    if not content:
        return [] if not response.content else [f"{label}: a body where none is documented"]
    media_type = response.get("Content-Type", "").split(";")[0].strip()
    if media_type not in content:
        return [f"{label}: {media_type or 'no content type'} is not one of {sorted(content)}"]
    if media_type != "application/json":
        return []
    body_schema = content[media_type].get("schema", {})
    problems = body_problems(schema, body_schema, response.json())
    return [f"{label}: {problem}" for problem in problems]

"""The layers as the code must keep them: a one-way service graph over a store that alone knows DynamoDB.

Read from the source (ast), so a violation fails here whatever the tests of behaviour do.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.infra import ROOT

LAYER = ROOT / "layers/common/python"
PACKAGE = LAYER / "crowdtask"
# What only store/ may import: the client, keys, transaction parts and collections.
STORE_INTERNALS = ("crowdtask.store.dynamo", "crowdtask.store.keys", "crowdtask.store.changes")
STORE_INTERNALS += ("crowdtask.store.collections",)
# DynamoDB's own language: condition and update expressions, index names, key attributes and prefixes.
EXPRESSION = re.compile(
    r"attribute_(not_)?exists\s*\(|if_not_exists\s*\(|list_append\s*\(|begins_with\s*\("
    r"|^(SET|ADD|REMOVE|DELETE) [#\w]|[#\w]+ (=|<|>|<>|<=|>=) :\w+|:\w+ (=|<|>) #\w+"
)
INDEX_NAMES = {"gsi1", "gsi2", "by_due", "by_name", "by_modified"}
KEY_ATTRIBUTES = {"pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "due_pk", "due_sk", "listing_pk"}
KEY_PREFIX = re.compile(r"^[A-Z][A-Z-]+#")
CAMPAIGN_STATES = {"unpublished", "active", "paused", "cancelled"}


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(LAYER).with_suffix("").parts)
    return name.removesuffix(".__init__")


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
SERVICES = sorted(name for name in MODULES if name.startswith("crowdtask.services."))


def _imports(path: Path) -> Iterator[tuple[ast.stmt, str, bool]]:
    """(statement, imported module, inside a function) for every import of a file."""
    tree = ast.parse(path.read_text())
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name, id(node) in inside
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node, node.module, id(node) in inside
            for alias in node.names:  # `from crowdtask.services import tasks` imports a module too
                if f"{node.module}.{alias.name}" in MODULES:
                    yield node, f"{node.module}.{alias.name}", id(node) in inside


def _graph(names: list[str]) -> dict[str, set[str]]:
    return {name: {m for _, m, _ in _imports(MODULES[name]) if m in names and m != name} for name in names}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _strings(path: Path) -> Iterator[tuple[int, str]]:
    """String constants of a file, docstrings and f-string texts included."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


def _outside_store() -> list[Path]:
    paths = [p for name, p in MODULES.items() if not name.startswith("crowdtask.store")]
    return sorted([*paths, *(ROOT / "functions").glob("*/app.py")])


# ---------------------------------------------------------------- the checkers, checked
def test_the_cycle_finder_finds_a_circle_and_not_a_chain():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


@pytest.mark.parametrize(
    "text",
    ["attribute_not_exists(pk)", "SET #a = :a", "ADD used :n", "#state = :state", "gsi1pk = :p AND x"],
)
def test_an_expression_is_recognised(text):
    assert EXPRESSION.search(text)


@pytest.mark.parametrize("text", ["Set the fields", "POST /tasks/{id}/copy", "add the deltas", "a = b"])
def test_prose_is_not_an_expression(text):
    assert not EXPRESSION.search(text)


# ---------------------------------------------------------------- the rules
def test_services_import_each_other_one_way_only():
    assert _cycles(_graph(SERVICES)) == []


@pytest.mark.parametrize("service", SERVICES, ids=str)
def test_no_service_imports_inside_a_function(service):
    found = _imports(MODULES[service])
    inside = [f"line {node.lineno}: {module}" for node, module, nested in found if nested]
    assert inside == [], "import at the top of the module (or move the flow where it belongs)"


COORDINATOR = "crowdtask.services.flows"


def _in_coordinator(module: str) -> bool:
    return module == COORDINATOR or module.startswith(COORDINATOR + ".")


def _coordinator_importers(graph: dict[str, set[str]]) -> list[str]:
    """Services outside the coordinator's package that import any of its modules."""
    return sorted(
        name
        for name, imported in graph.items()
        if not _in_coordinator(name) and any(_in_coordinator(module) for module in imported)
    )


def test_the_coordinator_check_finds_a_service_importing_a_flow():
    graph = {
        "crowdtask.services.market": {"crowdtask.services.flows.publishing"},
        "crowdtask.services.flows.reviewing": {"crowdtask.services.flows.publishing"},
        "crowdtask.services.results": {"crowdtask.services.flows"},
        "crowdtask.services.flowsheet": {"crowdtask.services.tasks"},
    }
    assert _coordinator_importers(graph) == ["crowdtask.services.market", "crowdtask.services.results"]


def test_the_coordinator_is_a_package_of_flows():
    flows = [name for name in SERVICES if _in_coordinator(name)]
    assert {
        f"{COORDINATOR}.{flow}" for flow in ("publishing", "reviewing", "storing", "uploading", "sweeping")
    } <= set(flows)


def test_the_coordinator_is_imported_by_no_other_service():
    assert _coordinator_importers(_graph(SERVICES)) == []


@pytest.mark.parametrize("path", _outside_store(), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_store_knows_dynamodb(path):
    modules = [m for _, m, _ in _imports(path)]
    aws = {"boto3", "botocore"}
    imported = [m for m in modules if m.startswith(STORE_INTERNALS) or m.split(".")[0] in aws]
    assert imported == [], "go through a store module named for what it does"
    found = []
    for line, text in _strings(path):
        if EXPRESSION.search(text) or KEY_PREFIX.match(text) or text in INDEX_NAMES | KEY_ATTRIBUTES:
            found.append(f"line {line}: {text[:60]!r}")
    assert found == [], "expressions, index names and keys belong to store/"


@pytest.mark.parametrize("layer", ["crowdtask.services", "crowdtask.store", "crowdtask.models"], ids=str)
def test_lower_layers_never_import_the_http_edge(layer):
    offenders = [
        f"{name}: {module}"
        for name in MODULES
        if name.startswith(layer)
        for _, module, _ in _imports(MODULES[name])
        if module.startswith(("crowdtask.http", "aws_lambda_powertools.event_handler"))
    ]
    assert offenders == []


def test_the_store_never_imports_services():
    offenders = [
        f"{name}: {module}"
        for name in MODULES
        if name.startswith("crowdtask.store")
        for _, module, _ in _imports(MODULES[name])
        if module.startswith("crowdtask.services")
    ]
    assert offenders == []


@pytest.mark.parametrize("path", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_functions_reach_the_store_only_through_services(path):
    assert [m for _, m, _ in _imports(path) if m.startswith("crowdtask.store")] == []


def test_campaign_states_are_named_only_by_the_lifecycle():
    named = []
    for path in [*(PACKAGE / "services").glob("*.py"), PACKAGE / "http/links.py"]:
        if path.name == "lifecycle.py":
            continue
        found = _strings(path)
        named += [f"{path.name} line {line}: {text}" for line, text in found if text in CAMPAIGN_STATES]
    assert named == [], "ask services/lifecycle.py"


# Imports inside functions that stay, each for a reason other than cold start (which they would
# only move from the init to the first request): what loads there depends on the request or the
# environment, and most requests never load it.
CONDITIONAL_IMPORTS = {
    # Powertools idempotency and its hashing: only a POST that carries an Idempotency-Key
    "crowdtask/http/idempotency.py": {
        "hashlib",
        "aws_lambda_powertools.utilities.idempotency",
        "aws_lambda_powertools.utilities.idempotency.exceptions",
        "crowdtask.store",
        "crowdtask.store.idempotency",
    },
    # the bulk path (bulk, pools): only uploads of arrays, pool tasks or async_mode; one task of its
    # own is created without it. Publishing (campaigns, market): only an upload whose end opens them.
    "crowdtask/http/task_uploads.py": {
        "crowdtask.services.flows",
        "crowdtask.services.flows.storing",
        "crowdtask.services.flows.uploading",
    },
    # the X-Ray SDK: only inside Lambda with tracing on
    "crowdtask/observability.py": {"aws_lambda_powertools"},
    # Swagger UI's page and assets: only the docs routes that serve them
    "docs/app.py": {
        "aws_lambda_powertools.event_handler.openapi.swagger_ui.html",
        "aws_lambda_powertools.event_handler",
    },
}


def _all_code() -> list[Path]:
    return sorted([*PACKAGE.rglob("*.py"), *(ROOT / "functions").glob("*/app.py")])


@pytest.mark.parametrize("path", _all_code(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_are_eager_but_for_the_named_conditional_ones(path):
    where = str(path.relative_to(PACKAGE.parent if PACKAGE in path.parents else ROOT / "functions"))
    nested = {module for _, module, inside in _imports(path) if inside}
    assert nested <= CONDITIONAL_IMPORTS.get(where, set()), "import at the top of the module"
    assert "TYPE_CHECKING" not in path.read_text(), "what the type checker sees is what runs"

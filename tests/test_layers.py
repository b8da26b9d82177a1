"""The layers of pmbot and the rules between them, checked on the source (README, "Layout").

- `bot/domain` is pure (tests/test_architecture.py checks it imports no Slack, SQL or HTTP library).
- Only `bot/gateways` talks to the outside world's libraries: `slack_sdk`, `jira`, `openai`, `requests`. The
  local Slack stand-in (`bot/sandbox`) is exempt: it plays Slack, it is not pmbot. Bolt (`slack_bolt`) is the
  edge's framework, not a gateway's client, and may be imported by the edge and the command modules.
- `bot/mirror` imports no feature: features plug into it from the composition root (bot/app.py).
- `storage` imports nothing of `bot` but the pure domain.
- No import cycle among pmbot's modules. Imports inside functions count (a cycle hidden in a function is still a
  cycle); imports only for type checking (`if TYPE_CHECKING:`) do not, as they never run.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "storage")
OUTSIDE_LIBRARIES = ("slack_sdk", "jira", "openai", "requests")
FEATURES = ("bot.bugs", "bot.risks", "bot.incidents", "bot.standups", "bot.budgets", "bot.quality", "bot.digest",
            "bot.comms", "bot.reports", "bot.commands")
EXEMPT = ("bot.sandbox",)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Nodes under `if TYPE_CHECKING:` (never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(inner) for statement in node.body for inner in ast.walk(statement)}
    return skipped


@cache
def imported(name: str) -> frozenset[str]:
    """Every module name `name` imports when it runs: `from a.b import c` counts `a.b` and, if it is a module,
    `a.b.c`; relative imports are resolved."""
    path = modules()[name]
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return frozenset(found)


def ours(name: str) -> set[str]:
    return {m for m in imported(name) if m in modules() and m != name}


def offenders(where: tuple[str, ...], forbidden: tuple[str, ...], *, allowed: tuple[str, ...] = ()) -> dict:
    """Modules under `where` (and not under `allowed`) importing something under `forbidden`."""
    found = {}
    for name in modules():
        if not _under(name, where) or _under(name, allowed):
            continue
        bad = sorted(m for m in imported(name) if _under(m, forbidden))
        if bad:
            found[name] = bad
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def cycles() -> list[list[str]]:
    """Groups of modules that import each other, directly or around a loop (Tarjan's strongly connected
    components, iteratively)."""
    graph = {name: sorted(ours(name)) for name in modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(graph[step])))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_there_is_no_import_cycle() -> None:
    assert cycles() == []


def test_only_the_gateways_use_the_outside_worlds_libraries() -> None:
    assert offenders(PACKAGES, OUTSIDE_LIBRARIES, allowed=("bot.gateways", *EXEMPT)) == {}


def test_the_mirror_imports_no_feature() -> None:
    assert offenders(("bot.mirror",), FEATURES) == {}


def test_storage_imports_nothing_of_the_bot_but_the_domain() -> None:
    beyond = {name: [m for m in found if not _under(m, ("bot.domain",))]
              for name, found in offenders(("storage",), ("bot",)).items()}
    assert {name: found for name, found in beyond.items() if found} == {}


def test_the_checks_see_a_cycle_and_a_forbidden_import(tmp_path: Path, monkeypatch) -> None:
    """The rules can fail: a planted cycle and a planted import are found."""
    planted = {"bot.x": "import bot.y\nimport slack_sdk\n", "bot.y": "from bot import x\n"}
    for name, source in planted.items():
        (tmp_path / f"{name.split('.')[-1]}.py").write_text(source)
    fake = {**modules(), **{name: tmp_path / f"{name.split('.')[-1]}.py" for name in planted}}
    monkeypatch.setattr(f"{__name__}.modules", lambda: fake)
    imported.cache_clear()
    try:
        assert ["bot.x", "bot.y"] in cycles()
        assert offenders(("bot.x",), OUTSIDE_LIBRARIES) == {"bot.x": ["slack_sdk"]}
    finally:
        imported.cache_clear()

"""The layering rules, checked on the source.

- `bot/domain` holds the rules and nothing else: it imports no Slack, SQL, HTTP, Jira or LLM library, neither
  `storage` nor `bot.gateways`, so its code runs and is tested without any of them.
- Importing the domain loads none of those libraries indirectly either.
- Importing the app and the CLI starts no thread and reads no environment: settings and clients are built in the
  composition root (`bot.app.build`) when the process asks for them.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_DOMAIN = ("slack_sdk", "slack_bolt", "sqlalchemy", "sqlmodel", "psycopg", "alembic", "jira", "openai",
                       "requests", "httpx", "urllib3", "http", "urllib.request", "cheroot", "storage", "bot.gateways")


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_domain_imports_no_slack_sql_or_http_library() -> None:
    offenders = {}
    for path in (ROOT / "bot" / "domain").rglob("*.py"):
        bad = {name for name in _imports(path)
               if any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IN_DOMAIN)}
        if bad:
            offenders[str(path.relative_to(ROOT))] = bad
    assert offenders == {}


def test_importing_the_domain_loads_none_of_them() -> None:
    modules = [p.stem for p in (ROOT / "bot" / "domain").glob("*.py") if p.stem != "__init__"]
    code = (
        "import sys\n"
        + "".join(f"import bot.domain.{m}\n" for m in modules)
        + f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IN_DOMAIN!r}]\n"
        + "print(','.join(sorted(bad)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == ""


def test_importing_the_app_starts_nothing_and_reads_no_environment() -> None:
    code = "import os, threading\nos.environ['DATABASE_URL']='mysql://broken'\nimport bot.app, bot.cli\n" \
           "print(threading.active_count())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "1"

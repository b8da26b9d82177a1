"""Start-up stays light: each entry point loads only the libraries its work needs (issue #18, point 3).

Measured by what is imported, in a fresh interpreter, not by the clock: `bench/startup.py` prints the times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HEAVY = ("sqlalchemy", "sqlmodel", "openai", "jira", "matplotlib", "numpy", "slack_bolt", "slack_sdk", "alembic",
         "apscheduler", "pydantic")


def loaded_after(code: str) -> set[str]:
    """The heavy top-level packages a fresh interpreter holds after running `code`."""
    probe = code + f"\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "JIRA_", "SLACK_", "PMBOT_"))}
    with tempfile.TemporaryDirectory() as empty:  # no .env file that could configure an LLM or Jira
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True,
                              env=env, cwd=empty)
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def run_cli(*args: str) -> str:
    return f"from bot.cli import main\ntry:\n    main({list(args)!r})\nexcept SystemExit:\n    pass"


def test_help_and_version_load_nothing_heavy() -> None:
    assert loaded_after(run_cli("--help")) == set()
    assert loaded_after(run_cli("--version")) == set()
    assert loaded_after(run_cli("jobs", "--help")) == set()


def test_classify_loads_only_the_grader_and_settings() -> None:
    loaded = loaded_after(run_cli("classify", "the export button is misaligned"))
    assert loaded == {"numpy", "pydantic"}  # the model's arrays, and the settings


def test_the_bot_without_jira_or_an_llm_never_loads_their_libraries() -> None:
    loaded = loaded_after("import bot.app")
    assert not loaded & {"openai", "jira", "matplotlib"}, loaded

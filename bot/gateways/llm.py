"""OpenAI (or compatible) client construction with bounded timeouts."""

from __future__ import annotations

from openai import OpenAI

from bot.settings import Settings

LLM_TIMEOUT_SECONDS = 20.0


def build_llm_client(settings: Settings, *, max_retries: int = 2) -> OpenAI:
    """The LLM client; the library default of a 600 s read timeout would tie up a worker for minutes."""
    if settings.openai_api_key is None:
        raise ValueError("OPENAI_API_KEY is not set")
    return OpenAI(api_key=settings.openai_api_key.get_secret_value(), base_url=settings.openai_base_url,
                  timeout=LLM_TIMEOUT_SECONDS, max_retries=max_retries)

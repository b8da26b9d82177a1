"""pmbot: the Slack bot that runs the day-to-day of generative-AI teams."""


def __getattr__(name: str) -> str:
    # The version is read from the installed package's metadata on first use: importing `importlib.metadata`
    # costs tens of milliseconds that `pmbot --help` and every other import of `bot.*` need not pay.
    if name != "__version__":
        raise AttributeError(f"module 'bot' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        value = version("genai-pm-bot")
    except PackageNotFoundError:  # running from a checkout that was never installed
        value = "0.0.0+local"
    globals()["__version__"] = value
    return value

"""pmbot: the Slack bot that runs the day-to-day of generative-AI teams."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genai-pm-bot")
except PackageNotFoundError:  # running from a checkout that was never installed
    __version__ = "0.0.0+local"

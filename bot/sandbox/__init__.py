"""The local Slack workspace: a Web API stand-in and a driver that sends signed requests to the bot."""

from bot.sandbox.driver import Driver, Response
from bot.sandbox.server import SlackSandbox

__all__ = ["Driver", "Response", "SlackSandbox"]

"""The project digest (STAND-IN: the digest helper's package replaces this at merge)."""

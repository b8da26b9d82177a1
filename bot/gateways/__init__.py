"""The only code that talks to Slack, Jira and the LLM."""

"""Pure rules: no Slack, SQL or HTTP library is imported anywhere below this package."""

"""The Quality Management Plan: metrics and targets per team, eval runs judged against them (issue #22)."""

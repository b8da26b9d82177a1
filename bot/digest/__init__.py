"""The stakeholder digest (issue #23): numbers first, a short narrative, and a one-page chart."""

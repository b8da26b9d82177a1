"""Bug intake: stored redacted, graded, posted with what to do, and reviewed by people."""

"""Comms plans (`/pmbot comms`): who gets the project digest when."""

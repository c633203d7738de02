"""The studio: the provider's tools beyond songs, each one module declaring a `Tool` (bot/studio/tool.py).

A tool runs as a task of the durable core like a song does (submitted once, polled, its callbacks stored
and applied, one progress message); what differs per tool is declared in its module and read from the
registry (bot/studio/registry.py): its request model, where it is polled, how its answers are read, and
how its results are delivered (tracks, or files: bot/studio/delivery.py).
"""

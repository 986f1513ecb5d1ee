"""The command line's parts: shared output and options, and the command groups `cli.py`
registers (the decision log's, and the jobs': serve, batch, report, diff)."""

"""gkd's benchmark harness: ``python -m benchmarks.run`` (see ``--help``)."""

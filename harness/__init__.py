"""The harness: grades machine-learning exercises behind a trust boundary."""

__version__ = "0.1.0"

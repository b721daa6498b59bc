"""``python -m harness`` runs the ``grade`` command."""

from harness.cli import main

main()

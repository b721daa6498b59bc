"""Leakage: what the harness knows about test data reaching training.

``kinds`` is the shared vocabulary; ``static`` reads source, ``scan`` runs a program in the
sandbox under the child's provenance trace (:mod:`harness.child.provenance`) and merges both.
"""

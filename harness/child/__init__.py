"""The child side of the trust boundary: code that runs beside learner code.

Everything in this package must assume the submission can read and patch it. It holds
no hidden test, expected value or reference, and decides no verdict.
"""

"""The self-checks of Sirene's assignments (``check()``/``hint()`` per question), one module each.

The framework they are written with is the engine's :mod:`datathon.checks`.
"""

"""The self-checks of Sirene's assignments (``check()``/``hint()`` per question), one module each
(``a1``, ``a2``, ``a3``), and of its course's exercises (``course``: every lesson's, with ``solution()``).

The framework they are written with is the engine's :mod:`datathon.checks`.
"""

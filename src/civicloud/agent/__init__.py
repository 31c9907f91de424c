"""The site agent: join, loops, drivers. ``reconcile.py`` is pure (desired vs actual -> actions)."""

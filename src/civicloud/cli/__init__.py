"""The ``civicloud`` command line (Typer + Rich)."""

from civicloud.cli.main import app, main

__all__ = ["app", "main"]

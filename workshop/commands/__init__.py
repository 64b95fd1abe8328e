"""CLI sub-commands, one module each (see workshop/cli.py)."""

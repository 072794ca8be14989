"""The package version, apart so that any layer (the command line's ``--version``) can read it."""

__version__ = "0.1.0"

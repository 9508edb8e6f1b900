"""The package version, single-sourced for the build and the User-Agent."""

__version__ = "0.1.0.dev0"

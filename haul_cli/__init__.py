"""haul: the command-line client of the Haul download manager (talks to its public API only)."""

__version__ = "0.1.0"

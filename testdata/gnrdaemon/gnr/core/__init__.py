"""Stand-in for gnr.core (see ../../README.md)."""

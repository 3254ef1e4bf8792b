"""Stand-in for gnr.web (see ../../README.md)."""

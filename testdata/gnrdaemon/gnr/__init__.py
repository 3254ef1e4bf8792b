"""Stand-in for the few Genropy names that travel in pickles (see ../README.md)."""

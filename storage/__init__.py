"""What several packages share and none owns: SQLite files (open, schema, WAL) and the per-library locks
that keep a harvest, a rebuild and a cataloguer's decision from stepping on each other."""

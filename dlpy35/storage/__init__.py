"""Storage: atomic writes, checkpoints, saved networks, run directories, CSV tables and caches."""

"""Studies built on the engine: sweeps, the book's results table and figures, their plots."""

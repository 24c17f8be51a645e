"""Helpers with no game in them: batch-invariant numerics, progress bars, text tables."""

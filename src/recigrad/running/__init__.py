"""Running methods: training runs (``train``), checkpoints (``checkpoint``),
the benchmark suite (``suite``) and its distributed backend (``distributed``)."""

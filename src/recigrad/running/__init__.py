"""Running methods end to end (docs/model.md §10).

- `recigrad.running.train`: a training run of one method on one regime for a
  batch of seeds, evaluated along the way, and its run folder (`recigrad train`);
- `recigrad.running.checkpoint`: checkpoints in safe formats (JSON and numpy
  arrays, no pickle) and resuming, bit for bit;
- `recigrad.running.suite`: the benchmark suite over regimes, methods and
  seeds, and its report (`recigrad bench`);
- `recigrad.running.distributed`: the suite's Ray backend (Ray is imported
  only when it is used).
"""

"""Running methods end to end (docs/model.md §10).

- `recigrad.running.train`: the training loop of one method on one regime for a
  batch of seeds, evaluated along the way (`recigrad train`);
  `recigrad.running.private_train`: its loop for a game under private assessment;
- `recigrad.running.runfolder`: its run folder; `recigrad.running.plots`: the
  learning-curve and percent-of-reference plots;
- `recigrad.running.checkpoint`: checkpoint files in safe formats (JSON and numpy
  arrays, no pickle), atomic writes, header and checksums; each method state
  converts and checks itself (docs/model.md §11);
- `recigrad.running.suite`: the benchmark suite over regimes, methods and
  seeds (`recigrad bench`); `recigrad.running.stats`: statistics over seeds;
  `recigrad.running.report`: its report files;
- `recigrad.running.distributed`: the suite's Ray backend (Ray is imported
  only when it is used);
- `recigrad.running.pool`: the suite's processes backend (`--backend processes
  --workers N`: the Ray backend's jobs in processes of this machine);
- `recigrad.running.scaling`: the study across N (`recigrad bench --suite scaling`).


- `recigrad.running.tune`: tuning a baseline for any population over its recorded
  grid (`recigrad tune`).
"""

"""Helpers with no game in them.

- `recigrad.util.numerics`: element-wise functions whose value for one
  population does not depend on the rest of the batch;
- `recigrad.util.progress`: progress bars on stderr (`RECIGRAD_PROGRESS`);
- `recigrad.util.text`: plain-text tables for the command line;
- `recigrad.util.device`: where the learners' tensors live (`--device`, `RECIGRAD_DEVICE`).
"""

"""Learning from public records (docs/model.md §5, §6, §7).

- `recigrad.learning.estimators`: each learner's private estimates of the
  others' observable tables, updated from the public records only (a learner
  never reads another agent's true tables);
- `recigrad.learning.reciprocity_gradient`: the reciprocity-gradient learner
  (method `"rg"`): play, estimate, model the population, ascend its own payoff
  through the stationary reputations;
- `recigrad.learning.baselines`: the sample-based baselines REINFORCE and PPO,
  on the same simulator and the same policy tables.
"""

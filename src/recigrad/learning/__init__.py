"""Learning from public records (docs/model.md §5, §6, §7, §11).

- `recigrad.learning.contract`: what every training method provides (a
  `typing.Protocol`), the registry of method names, and the checks of a state's
  checkpoint fields;
- `recigrad.learning.tables`: the learners' logits, their warm-up or random start
  and the rule for which heads learn, shared by every method;
- `recigrad.learning.estimators`: each learner's private estimates of the
  others' observable tables, updated from the public records only (a learner
  never reads another agent's true tables); `recigrad.learning.change_detection`
  decides what they forget and `recigrad.learning.pooling` which agents'
  records pool into their priors; `recigrad.learning.view` puts a learner's own live
  tables into its view of the population;
- `recigrad.learning.reciprocity_gradient`: the reciprocity-gradient learner
  (method `"rg"`): play, estimate, model the population, ascend its own payoff
  through the stationary reputations;
- `recigrad.learning.private_learner`: the same learner under private assessment,
  estimating the others from its own observations only (method `"rg"` of a private
  game, trained by `recigrad.running.private_train`), with its beliefs of the others'
  views in `recigrad.learning.private_beliefs`;
- `recigrad.learning.baselines`: the sample-based baselines REINFORCE and PPO,
  on the same simulator and the same policy tables, and their neural-policy
  versions (reinforce-mlp, a2c-mlp, ppo-mlp).
"""

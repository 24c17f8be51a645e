"""Sample-based policy-gradient baselines (docs/model.md §7).

Two methods with the interface of ``recigrad.learning.reciprocity_gradient`` (``start(regime, seeds)``,
``step(state)``; the state has ``tables()`` and ``interactions``), on the same
simulator and the same policy tables (12 logits per learner):

- ``recigrad.learning.baselines.reinforce``: REINFORCE with discounted reward-to-go and a
  learned per-context value baseline, Adam;
- ``recigrad.learning.baselines.ppo``: PPO with GAE, clipped surrogate and a value table
  over the same contexts, Adam.

Both learn from the learner's own decisions and payoffs read from the public
records (``recigrad.learning.baselines.common``); hyper-parameters are per-method
dataclasses, overridden per regime by the tuned table ``tuned.json``
(written by ``benchmarks/tune_baselines.py``); ``recigrad.learning.baselines.settings``
says where a run's settings come from (tuned for its population, for another, or defaults).

Three neural-policy baselines use the same records, rewards and update batches with a
small MLP per learner (``recigrad.learning.baselines.mlp``: the network, batched over
populations, learning a residual on the start logits; its tables read off at the 12
contexts) and an entropy bonus:

- ``recigrad.learning.baselines.reinforce_mlp``: REINFORCE as above, the value table as baseline;
- ``recigrad.learning.baselines.a2c_mlp``: synchronous A2C with an MLP critic;
- ``recigrad.learning.baselines.ppo_mlp``: PPO as above with an MLP critic.
"""

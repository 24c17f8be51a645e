"""Sample-based policy-gradient baselines (docs/model.md §7).

Two methods with the interface of ``recigrad.learning.reciprocity_gradient`` (``start(regime, seeds)``,
``step(state)``; the state has ``tables()`` and ``interactions``), on the same
simulator and the same policy tables (12 logits per learner):

- ``recigrad.learning.baselines.reinforce``: REINFORCE with discounted reward-to-go and a
  learned per-context value baseline, Adam;
- ``recigrad.learning.baselines.ppo``: PPO with GAE, clipped surrogate and a value table
  over the same contexts, Adam.

- ``recigrad.learning.baselines.sb3``: Stable-Baselines3's PPO and A2C (extra ``sb3``) trained on
  ``recigrad/Reciprocity-v0``, one model per seed, tables read off the policy; registered as
  ``sb3-ppo`` / ``sb3-a2c`` (tuned: ``recigrad.learning.baselines.sb3_ppo``,
  ``recigrad.learning.baselines.sb3_a2c``) and ``sb3-ppo-default`` / ``sb3-a2c-default`` (SB3's
  defaults: ``recigrad.learning.baselines.sb3_ppo_default``, ``recigrad.learning.baselines.sb3_a2c_default``).

REINFORCE and PPO learn from the learner's own decisions and payoffs read from the public
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

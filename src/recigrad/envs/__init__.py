"""Environments: the game (docs/model.md §1) one decision at a time, for the ecosystem.

- ``recigrad.envs.core``: the plain-Python state machine both wrappers share;
  fixed agents act from their tables, *external* agents (the regime's learners)
  are driven by the caller.
- ``recigrad.envs.pettingzoo``: ``env(...)`` (AEC) and ``parallel_env(...)``,
  one PettingZoo agent per learner of the regime (needs ``pettingzoo``).
- ``recigrad.envs.gymnasium``: a single-learner ``gymnasium.Env``, registered as
  ``recigrad/Reciprocity-v0`` when the module is imported (needs ``gymnasium``).

Every rule of how reputations form (the regime's ``[game]``: observers,
aggregation, observation probability, perception error) holds in all of them;
``identities=True`` adds the donor's and the recipient's indices to observations.

Nothing is imported here, so ``import recigrad.envs`` needs neither package.
"""

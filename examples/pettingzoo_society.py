"""A PettingZoo society driven by hand-written policies.

In the regime ``society-L6`` all eight agents are learners, so every decision
reaches the caller (docs/model.md §9; the environment is ``recigrad.envs.pettingzoo``).
Here no one learns: each agent follows a fixed hand-written policy that reads
its observation ``(role, x_own, x_d, x_r, a)``:

- a *discriminator* cooperates as donor with a good recipient only;
- a *defector* never cooperates;
- as observers all judge by stern judging: good when the donor helped a good
  recipient or refused a bad one (docs/model.md §2).

Two societies are played for several seeded episodes with the parallel API:
eight discriminators, then six discriminators and two defectors.  Each agent's
mean reward per round (N interactions) is printed next to the exact chain's
payoff for the same tables (docs/model.md §4); for the first society theory
also gives it in closed form, ``(b - c)(1 - e) g`` with
``g = (1 - mu)/(2 - mu - A)`` (docs/model.md §3).

Run: python examples/pettingzoo_society.py
"""

from __future__ import annotations

import numpy as np
import torch

from recigrad.dynamics import exact
from recigrad.envs import pettingzoo as rp
from recigrad.game import Game, observable
from recigrad.game.norms import action_table, signal_table
from recigrad.game.regime import load_regime

EPISODES, INTERACTIONS = 8, 4_000
DONOR, OBSERVER = 1, 2


def discriminator(obs: np.ndarray) -> int:
    role, x_own, x_d, x_r, a = obs
    return int(x_r == 1) if role == DONOR else stern_judging(obs)


def defector(obs: np.ndarray) -> int:
    return 0 if obs[0] == DONOR else stern_judging(obs)


def stern_judging(obs: np.ndarray) -> int:
    """Observer's signal: good when the realised action matches the recipient's reputation."""
    role, x_own, x_d, x_r, a = obs
    return int(a == x_r)


def play(policies: list, game: Game) -> np.ndarray:
    """Mean reward per round of each agent, one row per episode: ``(EPISODES, N)``."""
    per_round = []
    for episode in range(EPISODES):
        env = rp.parallel_env(regime="society-L6", max_interactions=INTERACTIONS)
        observations, infos = env.reset(seed=episode)
        total = dict.fromkeys(env.possible_agents, 0.0)
        while env.agents:
            actions = {agent: policies[env.agent_index[agent]](obs) for agent, obs in observations.items() if obs[0] != 0}
            observations, rewards, _, _, infos = env.step(actions)
            for agent, reward in rewards.items():
                total[agent] += reward
        rounds = INTERACTIONS / len(policies)
        per_round.append([total[agent] / rounds for agent in env.possible_agents])
    return np.array(per_round)


def exact_payoffs(kinds: list[str], game: Game) -> torch.Tensor:
    """The exact chain's payoff per round ``(N,)`` for the same tables (everyone judges by stern judging)."""
    act = torch.stack([action_table(kind, "stern-judging") for kind in kinds])[None]
    sig = torch.stack([signal_table("stern-judging") for _ in kinds])[None]
    pc, so = observable(act, sig, game)
    return exact.solve(pc, so, game).payoff[0]


def main() -> None:
    game = load_regime("society-L6").game
    a = (1 - game.e) * (1 - game.mu) + game.e * game.mu
    g = (1 - game.mu) / (2 - game.mu - a)
    print(f"closed form for 8 stern-judging discriminators: (b-c)(1-e)g = {(game.b - game.c) * (1 - game.e) * g:.4f} per round")
    for kinds in (["disc"] * 8, ["disc"] * 6 + ["alld"] * 2):
        policies = [discriminator if kind == "disc" else defector for kind in kinds]
        rewards = play(policies, game)
        theory = exact_payoffs(kinds, game)
        print(f"society {' '.join(kinds)}: {EPISODES} episodes of {INTERACTIONS} interactions")
        print("  agent  policy         reward per round (+- s.e.)   exact chain")
        for j, kind in enumerate(kinds):
            mean, se = rewards[:, j].mean(), rewards[:, j].std(ddof=1) / np.sqrt(EPISODES)
            print(f"  {j:5d}  {kind:13s}  {mean:8.4f} (+- {se:.4f})            {theory[j].item():8.4f}")
        society = rewards.mean(axis=1)
        print(f"  society mean: {society.mean():.4f} (+- {society.std(ddof=1) / np.sqrt(EPISODES):.4f}),"
              f" exact chain {theory.mean().item():.4f}")


if __name__ == "__main__":
    main()

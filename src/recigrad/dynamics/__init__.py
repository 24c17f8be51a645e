"""What happens in the game, and what it comes to in the long run.

Sampled play (docs/model.md §1):

- `recigrad.dynamics.world`: the batched stochastic game on observable tables,
  its public records (`recigrad.dynamics.world.Records`) and per-agent tallies;
- `recigrad.dynamics.kernel`: the world's compiled inner loop;
- `recigrad.dynamics.streams`: one random stream per population, so that a seed
  gives the same run alone or in a batch;
- `recigrad.dynamics.plain`: the same game as a literal plain-Python loop, an
  independent check of the world;
- `recigrad.dynamics.private`: the world under private assessment (every agent
  keeps its own view of every agent; gossip; the permutation schedule), with its
  compiled loop `recigrad.dynamics.private_kernel` and the plain-Python replay
  `recigrad.dynamics.private_plain`; `recigrad.dynamics.private_records` cuts out of
  its records what each learner observed itself.

Theory, both returning a `recigrad.dynamics.solution.Solution` of per-agent
payoffs, reputations and cooperation:

- `recigrad.dynamics.exact`: the exact Markov chain on the `2^N` reputation
  states (N <= 12), differentiable (docs/model.md §4);
- `recigrad.dynamics.meanfield`: the mean-field reputation chain, `O(N)` per
  population, with an implicit gradient (docs/model.md §3).

Theory of private views (``assessment = "private"``), both returning a
`recigrad.dynamics.private_exact.PrivateSolution` (the `Solution` fields with the views,
their share of good ones and the agreement):

- `recigrad.dynamics.private_exact`: the exact chain on the `2^(N^2)` view matrices
  (N <= 4), not differentiable (docs/model.md §4);
- `recigrad.dynamics.private_meanfield`: the mean field over the views and their pair
  probabilities, with an implicit gradient (docs/model.md §3).
"""

"""Judging learned tables against theory.

- ``evaluate`` (``models``): everyone's long-run payoffs from true tables, exact
  chain when ``N <= 12`` and mean field above, and which model answered;
- ``best_response``: a learner's best response (the reference) and NashConv;
- ``candidates``: one learner's payoff for many candidate tables (``payoff_of``);
- ``lumped``: the exact chain lumped over groups of identical opponents;
- ``parameters``: a learner's tables as a vector of free entries;
- ``metrics``: percent of reference, adherence, context sensitivity, society metrics.
"""

from recigrad.evaluation.models import evaluate

__all__ = ["evaluate"]

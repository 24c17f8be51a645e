"""Judging learned tables against theory (docs/model.md §8).

- `recigrad.evaluation.models`: `evaluate`, everyone's long-run payoffs from true
  tables: the exact chain when `N <= 12`, mean field above, and which model answered;
- `recigrad.evaluation.best_response`: the reference, a learner's best payoff and
  tables against the others' fixed tables, with the entries that matter (strict)
  marked; and NashConv;
- `recigrad.evaluation.candidates`: one learner's payoff for many candidate tables;
- `recigrad.evaluation.screening`: NashConv in the mean field, candidates screened by a
  second-order model of the others and judged by one scalar equation;
- `recigrad.evaluation.lumped`: the exact chain lumped over groups of identical opponents;
- `recigrad.evaluation.parameters`: a learner's tables as a vector of free entries;
- `recigrad.evaluation.metrics`: the figures of a learned policy: payoff, percent of
  reference, adherence to the strict entries, sensitivity to reputations, the
  collapse rule, and a society's mean payoff and cooperation;
- `recigrad.evaluation.private_measures`: the figures of a private-assessment run
  (cooperation, share of good views, agreement, cooperation per class of donors);
- `recigrad.evaluation.private_reference`: a learner under private assessment scored in the
  exact chain of private views, and its reference.
"""

from recigrad.evaluation.models import evaluate

__all__ = ["evaluate", "best_response", "candidates", "lumped", "metrics", "models", "parameters", "private_measures",
           "private_reference", "screening"]

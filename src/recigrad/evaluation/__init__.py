"""Judging learned tables against theory (docs/model.md §8).

- `recigrad.evaluation.best_response`: the reference, a learner's best payoff
  and tables against the others' fixed tables, with the entries that matter
  (strict) marked; the lumped exact chain it evaluates candidates on;
- `recigrad.evaluation.metrics`: the figures of a learned policy: payoff,
  percent of reference, adherence to the strict entries, sensitivity to
  reputations, the collapse rule, and a society's mean payoff and cooperation.
"""

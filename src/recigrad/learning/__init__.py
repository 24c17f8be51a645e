"""Learning from public records: the private estimators of the others
(``estimators``), the reciprocity-gradient learner (``reciprocity_gradient``) and
the sample-based baselines (``baselines``)."""

"""Judging learned tables against theory: best responses (``best_response``) and
the metrics (``metrics``)."""

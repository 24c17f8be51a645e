"""What happens in the game: the world (``world``, its compiled loop ``kernel``,
its random ``streams``), the same game as a literal plain-Python loop (``plain``),
and the long-run answers of theory: the exact Markov chain (``exact``) and the
mean-field reputation chain (``meanfield``), both returning a ``Solution``."""

"""Statistics on arrays, shared by every analysis: feature filters, normalization and transforms
(:mod:`~osteobiome.stats.preprocess`), design matrices (:mod:`~osteobiome.stats.design`), per-feature models
(:mod:`~osteobiome.stats.lm` OLS, :mod:`~osteobiome.stats.lmm` REML random intercepts,
:mod:`~osteobiome.stats.twopart`, :mod:`~osteobiome.stats.robust` HC3, :mod:`~osteobiome.stats.compositional`),
multiple testing (:mod:`~osteobiome.stats.multitest`) and the normal, t, χ² and F distribution functions
(:mod:`~osteobiome.stats.distributions`)."""

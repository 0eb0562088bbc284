"""Per-feature models: :mod:`~osteobiome.models.lm` (OLS, all features at once) and
:mod:`~osteobiome.models.lmm` (random intercepts by REML with Satterthwaite degrees of freedom)."""

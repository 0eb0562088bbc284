"""Mechanisms: the curated genus-trait / pathway-mechanism table (:mod:`~osteobiome.mechanisms.knowledge`),
set-level tests of mechanism groups (:mod:`~osteobiome.mechanisms.sets`), HUMAnN pathway contributions
(:mod:`~osteobiome.mechanisms.contributions`) and the study's top-pathway summaries
(:mod:`~osteobiome.mechanisms.pathways`)."""

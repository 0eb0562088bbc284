#!/usr/bin/env Rscript
# Golden glmer fits for tests/test_glmm.py (issue 16): a simulated logistic GLMM (data.tsv: 300 samples, 40 levels
# of g1 with sd 1, 5 levels of g2 with sd 0.5; y ~ -0.3 + 0.8 x1 - 0.5 x2) fitted by lme4's glmer (Laplace,
# nAGQ = 1, default control) with (1 | g1) and with (1 | g1) + (1 | g2). Writes fits.tsv next to this script.
# Run once from the repository root: Rscript tests/golden/glmm_synthetic/make.R
suppressPackageStartupMessages(library(lme4))
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))
data <- read.delim(file.path(here, "data.tsv"))
rows <- list()
for (random in c("(1 | g1)", "(1 | g1) + (1 | g2)")) {
  fit <- glmer(as.formula(paste("y ~ x1 + x2 +", random)), data = data, family = binomial)
  table <- coef(summary(fit))
  theta <- getME(fit, "theta")
  rows[[random]] <- data.frame(
    random = random, term = rownames(table), coef = table[, 1], stderr = table[, 2],
    theta1 = unname(theta[1]), theta2 = if (length(theta) > 1) unname(theta[2]) else NA,
    minus2loglik = -2 * as.numeric(logLik(fit)), warnings = length(fit@optinfo$conv$lme4$messages)
  )
}
write.table(do.call(rbind, rows), file.path(here, "fits.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)

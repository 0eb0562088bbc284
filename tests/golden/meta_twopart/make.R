# Expected pooled prevalence part of fhs/ and mros/ (made by make_inputs.py), generated once with R 4.2.2 +
# metafor 3.8-1: per feature, rma.uni(coef.prevalence, sei = stderr.prevalence, method = "REML") fully
# converged (threshold 1e-12), over the cohorts where the prevalence part is estimated (k >= 2 only).
suppressPackageStartupMessages(library(metafor))
g <- function(x) sprintf("%.17g", x)
a <- read.delim("fhs/all_results.tsv", check.names = FALSE, stringsAsFactors = FALSE)
b <- read.delim("mros/all_results.tsv", check.names = FALSE, stringsAsFactors = FALSE)
m <- merge(a, b, by = "feature", suffixes = c(".fhs", ".mros"))
rows <- list()
for (i in seq_len(nrow(m))) {
  yi <- c(m[i, "coef.prevalence.fhs"], m[i, "coef.prevalence.mros"])
  sei <- c(m[i, "stderr.prevalence.fhs"], m[i, "stderr.prevalence.mros"])
  if (any(!is.finite(yi)) || any(!is.finite(sei))) next
  fit <- rma.uni(yi, sei = sei, method = "REML", control = list(threshold = 1e-12, maxiter = 10000))
  rows[[length(rows) + 1]] <- data.frame(feature = m$feature[i], coef = g(fit$beta[1]), stderr = g(fit$se),
    pval = g(fit$pval), tau2 = g(fit$tau2), I2 = g(fit$I2), QEp = g(fit$QEp))
}
write.table(do.call(rbind, rows), "expected_prevalence_reml.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

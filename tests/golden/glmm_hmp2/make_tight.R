#!/usr/bin/env Rscript
# Golden glmer fits with a tight PIRLS tolerance (issue 16), next to make.R's parts.tsv.
#
# Why: with glmer's default tolPwrss = 1e-7 the penalized IRLS for the conditional modes stops early on these
# data (124 subjects, random-intercept sd up to 7), so the Laplace deviance glmer optimizes is itself off by up to
# ~1e-2 (Veillonella parvula: -2 logLik 1674.42415 at glmer's default optimum; 1674.41751 with tolPwrss = 1e-12,
# the value osteobiome reaches) and coefficients and Hessian-based standard errors move by 1-3%. With
# tolPwrss = 1e-12 glmer and osteobiome agree to ~1e-5. Same data and model as make.R (default glmer optimizer).
#   prevalence_tight.tsv:           glmer(present ~ ..., binomial), every feature.
#   prevalence_augmented_tight.tsv: the MaAsLin3-augmented fit (three copies, weights 1, k/(2n), k/(2n)) for the
#                                   20 features tests/test_glmm_parity.py checks (every 4th retained feature).
# Run once from the repository root: Rscript tests/golden/glmm_hmp2/make_tight.R ../shared/reference/maaslin2_hmp2
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
folder <- if (length(args)) args[1] else "../shared/reference/maaslin2_hmp2"
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))

source(file.path(here, "data.R"))
formula <- present ~ diagnosis + dysbiosis + antibiotics + age + (1 | subject)
tight <- glmerControl(tolPwrss = 1e-12)

fit_rows <- function(feature, data, weights = NULL) {
  messages <- character(0)
  local_formula <- formula
  environment(local_formula) <- environment()  # glmer looks `weights` up in the formula's environment
  fit <- withCallingHandlers(
    glmer(local_formula, data = data, family = binomial, weights = weights, control = tight),
    warning = function(w) {
      if (!grepl("non-integer #successes", conditionMessage(w))) messages <<- c(messages, conditionMessage(w))
      invokeRestart("muffleWarning")
    }, message = function(m) {
      messages <<- c(messages, trimws(conditionMessage(m)))
      invokeRestart("muffleMessage")
    })
  table <- coef(summary(fit))[names(labels), 1:2]
  parts <- do.call(rbind, strsplit(labels, "\t"))
  data.frame(feature = feature, metadata = parts[, 1], value = parts[, 2], coef = table[, 1], stderr = table[, 2],
             statistic = table[, 1] / table[, 2], theta = unname(getME(fit, "theta")[1]),
             minus2loglik = -2 * as.numeric(logLik(fit)), singular = isSingular(fit),
             warning = gsub("[\t\n]", " ", paste(unique(c(messages, fit@optinfo$conv$lme4$messages)), collapse = "; ")))
}

write_rows <- function(rows, name) {
  write.table(do.call(rbind, rows), file.path(here, name), sep = "\t", quote = FALSE, row.names = FALSE)
}

rows <- list()
for (feature in colnames(rel)) {
  data <- meta
  data$present <- as.numeric(rel[, feature] > 0)
  rows[[feature]] <- fit_rows(feature, data)
}
write_rows(rows, "prevalence_tight.tsv")

n <- nrow(meta)
k <- length(labels)
rows <- list()
for (feature in colnames(rel)[seq(1, ncol(rel), by = 4)][1:20]) {
  data <- meta
  data$present <- as.numeric(rel[, feature] > 0)
  augmented <- rbind(data, data, data)
  augmented$present[(n + 1):(2 * n)] <- 1
  augmented$present[(2 * n + 1):(3 * n)] <- 0
  rows[[feature]] <- fit_rows(feature, augmented, c(rep(1, n), rep(k / (2 * n), 2 * n)))
}
write_rows(rows, "prevalence_augmented_tight.tsv")
cat(sprintf("lme4 %s, %s: %d features, %d samples\n", packageVersion("lme4"), R.version.string, ncol(rel), n))

#!/usr/bin/env Rscript
# Golden output for the two-part mixed model (issue 16): lme4/lmerTest fits of MaAsLin2's HMP2 example with
# (1 | subject), one row per feature x part x coefficient, written to parts.tsv next to this script.
#
# Run once from the repository root (R, lme4 and lmerTest needed; CI has no R):
#   Rscript tests/golden/glmm_hmp2/make.R ../shared/reference/maaslin2_hmp2
#
# Data: data.R (as the default preset prepares it).
#   abundance:            lmer(log2(rel) ~ diagnosis + dysbiosis + antibiotics + age + (1 | subject), REML)
#                         on the samples where the feature is present; lmerTest's Satterthwaite df.
#   prevalence:           glmer(present ~ same, binomial), Laplace (nAGQ = 1), glmer's default control.
#   prevalence_augmented: MaAsLin3's augmentation: the data three times, response as is / 1 / 0, weights
#                         1 / k/(2n) / k/(2n) (k = non-intercept coefficients), glmer with nloptwrap (MaAsLin3's
#                         first optimizer).
# 'warning' holds any warning or convergence message of the fit (empty when clean); 'singular' is isSingular().
suppressPackageStartupMessages({library(lme4); library(lmerTest)})
args <- commandArgs(trailingOnly = TRUE)
folder <- if (length(args)) args[1] else "../shared/reference/maaslin2_hmp2"
here <- dirname(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))

source(file.path(here, "data.R"))
rhs <- "diagnosis + dysbiosis + antibiotics + age + (1 | subject)"

fit_quietly <- function(expr) {
  messages <- character(0)
  value <- withCallingHandlers(expr, warning = function(w) {
    if (!grepl("non-integer #successes", conditionMessage(w))) messages <<- c(messages, conditionMessage(w))
    invokeRestart("muffleWarning")
  }, message = function(m) {
    messages <<- c(messages, trimws(conditionMessage(m)))
    invokeRestart("muffleMessage")
  })
  conv <- value@optinfo$conv$lme4$messages
  list(fit = value, warning = paste(unique(c(messages, conv)), collapse = "; "))
}

rows <- list()
emit <- function(feature, part, result, table, df) {
  fit <- result$fit
  theta <- getME(fit, "theta")
  for (term in names(labels)) {
    rows[[length(rows) + 1]] <<- data.frame(
      feature = feature, part = part, term = term, coef = table[term, 1], stderr = table[term, 2],
      statistic = table[term, 1] / table[term, 2], df = if (is.null(df)) Inf else df[term],
      theta = unname(theta[1]), deviance = deviance(fit), singular = isSingular(fit),
      warning = gsub("[\t\n]", " ", result$warning), check.names = FALSE
    )
  }
}

n <- nrow(meta)
k <- length(labels)
for (feature in colnames(rel)) {
  data <- meta
  data$present <- as.numeric(rel[, feature] > 0)
  data$log2rel <- ifelse(rel[, feature] > 0, log2(pmax(rel[, feature], 1e-300)), NA)

  abundance <- fit_quietly(lmerTest::lmer(as.formula(paste("log2rel ~", rhs)), data = data[data$present == 1, ], REML = TRUE))
  coefs <- summary(abundance$fit, ddf = "Satterthwaite")$coefficients
  emit(feature, "abundance", abundance, coefs[, c("Estimate", "Std. Error")], coefs[, "df"])

  prevalence <- fit_quietly(lme4::glmer(as.formula(paste("present ~", rhs)), data = data, family = binomial))
  emit(feature, "prevalence", prevalence, coef(summary(prevalence$fit))[, 1:2], NULL)

  augmented <- rbind(data, data, data)
  augmented$present[(n + 1):(2 * n)] <- 1
  augmented$present[(2 * n + 1):(3 * n)] <- 0
  weights <- c(rep(1, n), rep(k / (2 * n), 2 * n))
  aug <- fit_quietly(lme4::glmer(as.formula(paste("present ~", rhs)), data = augmented, family = binomial,
                                 weights = weights, control = glmerControl(optimizer = "nloptwrap")))
  emit(feature, "prevalence_augmented", aug, coef(summary(aug$fit))[, 1:2], NULL)
}
out <- do.call(rbind, rows)
parts <- do.call(rbind, strsplit(labels[out$term], "\t"))
out <- cbind(out["feature"], out["part"], metadata = parts[, 1], value = parts[, 2], out[setdiff(names(out), c("feature", "part", "term"))])
write.table(out, file.path(here, "parts.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
cat(sprintf("lme4 %s, lmerTest %s, %s: %d features, %d samples\n", packageVersion("lme4"), packageVersion("lmerTest"),
            R.version.string, ncol(rel), n))

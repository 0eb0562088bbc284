# Golden files for osteobiome.survival (issue 18). Run once from this folder: Rscript make.R
# R 4.x, survival >= 3.0. Writes the simulated inputs (features.tsv, metadata.tsv) and the expected outputs.
# Exposures are built here independently of osteobiome: MaAsLin2's pipeline (features non-zero in more than
# 10% of samples and with variance > 0, TSS over the kept features, log2 with zeros replaced by half the
# feature's smallest non-zero value), then scale() (mean 0, SD 1 with n - 1).
suppressPackageStartupMessages(library(survival))
set.seed(18)
n <- 240; m <- 25
mu <- exp(rnorm(m, 3, 1.5))
prev <- c(rep(0.06, 2), runif(m - 2, 0.3, 1))          # two features too rare for the 10% filter
counts <- sapply(seq_len(m), function(j) rnbinom(n, size = 0.8, mu = mu[j]) * rbinom(n, 1, prev[j]))
counts[, 5] <- counts[, 5] + 1                         # one feature present everywhere
colnames(counts) <- sprintf("Genus_%02d", seq_len(m))
rownames(counts) <- sprintf("S%03d", seq_len(n))
age0 <- round(runif(n, 55, 85), 1)
sex <- sample(c("F", "M"), n, replace = TRUE)
bmi <- round(rnorm(n, 27, 4), 1)

kept <- colSums(counts > 0) > n * 0.1 & apply(counts, 2, var) > 0
rel <- counts[, kept] / rowSums(counts[, kept])
logged <- apply(rel, 2, function(x) log2(ifelse(x == 0, min(x[x > 0]) / 2, x)))
expo <- scale(logged)

lp <- 0.04 * (age0 - 70) + 0.5 * (sex == "F") + 0.4 * expo[, 3]
follow <- rexp(n, 0.08 * exp(lp))
censor <- runif(n, 2, 15)
years <- pmax(1, ceiling(pmin(follow, censor)))         # whole years: many tied event times
event <- as.integer(follow <= censor)
exit_age <- age0 + round(pmin(follow, censor) * 2) / 2 + 0.5   # age scale, half-year steps (ties)
osteoporosis <- rbinom(n, 1, plogis(-1 + 0.03 * (age0 - 70) + 0.6 * (sex == "F") - 0.5 * expo[, 4]))
meta <- data.frame(sample = rownames(counts), age0 = age0, sex = sex, bmi = bmi, years = years,
                   fracture = event, exit_age = exit_age, osteoporosis = osteoporosis)
write.table(meta, "metadata.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(sample = rownames(counts), counts, check.names = FALSE), "features.tsv",
            sep = "\t", quote = FALSE, row.names = FALSE)

one <- function(fit, zph_row) c(coef = unname(coef(fit)[1]), stderr = sqrt(vcov(fit)[1, 1]),
                                pval = summary(fit)$coefficients[1, "Pr(>|z|)"],
                                ph.chisq = zph_row[["chisq"]], ph.pval = zph_row[["p"]])
cases <- list(
  right = function(x) coxph(Surv(years, fracture) ~ x + age0 + sex + bmi, data = meta, ties = "efron"),
  entry = function(x) coxph(Surv(age0, exit_age, fracture) ~ x + sex + bmi, data = meta, ties = "efron")
)
for (case in names(cases)) {
  rows <- t(sapply(colnames(expo), function(f) {
    fit <- cases[[case]](expo[, f])
    one(fit, cox.zph(fit, transform = "km")$table[1, ])
  }))
  out <- data.frame(feature = colnames(expo), rows, check.names = FALSE)
  out$qval <- p.adjust(out$pval, "BH")
  out$N <- n; out$N.events <- sum(meta$fracture)
  write.table(out, sprintf("expected_%s.tsv", case), sep = "\t", quote = FALSE, row.names = FALSE)
}
# Likelihood-ratio and score tests of the genus coefficient against the covariates-only model: started from
# init = c(0, coef(reduced)), coxph's score is the score test there and 2 * diff(loglik) the likelihood ratio.
reduced <- list(
  right = coxph(Surv(years, fracture) ~ age0 + sex + bmi, data = meta, ties = "efron"),
  entry = coxph(Surv(age0, exit_age, fracture) ~ sex + bmi, data = meta, ties = "efron"),
  none = coxph(Surv(years, fracture) ~ 1, data = meta, ties = "efron")
)
formulas <- list(right = Surv(years, fracture) ~ x + age0 + sex + bmi,
                 entry = Surv(age0, exit_age, fracture) ~ x + sex + bmi, none = Surv(years, fracture) ~ x)
tests <- do.call(rbind, lapply(names(formulas), function(case) {
  null_loglik <- tail(reduced[[case]]$loglik, 1)
  do.call(rbind, lapply(colnames(expo), function(f) {
    x <- expo[, f]
    formula <- formulas[[case]]
    environment(formula) <- environment()
    fit <- coxph(formula, data = meta, ties = "efron", init = c(0, coef(reduced[[case]])),
                 control = coxph.control(eps = 1e-10, iter.max = 50))
    stopifnot(abs(fit$loglik[1] - null_loglik) < 1e-8)
    lr <- 2 * diff(fit$loglik)
    data.frame(case = case, feature = f, loglik = fit$loglik[2], lr.chisq = lr, score.chisq = fit$score,
               lr.pval = pchisq(lr, 1, lower.tail = FALSE), score.pval = pchisq(fit$score, 1, lower.tail = FALSE))
  }))
}))
write.table(tests, "expected_tests.tsv", sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
rows <- t(sapply(colnames(expo), function(f) {
  fit <- glm(osteoporosis ~ expo[, f] + age0 + sex + bmi, data = meta, family = binomial,
             control = glm.control(epsilon = 1e-12, maxit = 100))
  summary(fit)$coefficients[2, c(1, 2, 4)]
}))
out <- data.frame(feature = colnames(expo), coef = rows[, 1], stderr = rows[, 2], pval = rows[, 3])
out$qval <- p.adjust(out$pval, "BH")
write.table(out, "expected_binary.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
writeLines(c(R.version.string, paste("survival", packageVersion("survival"))), "versions.txt")

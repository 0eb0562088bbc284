# Golden files for osteobiome.meta.meta_regression (issue 21), generated once with R 4.2.2 + metafor 3.8-1:
#   cd tests/golden/metareg && Rscript make.R
# Input: the BCG vaccine trials (metadat's dat.bcg, read from ../shared/reference/peer/dat.bcg.csv),
# log risk ratios by escalc(measure = "RR"); model yi ~ ablat + year.
# Outputs (numbers printed with 17 significant digits):
#   bcg_coefficients.tsv  method test term estimate se zval pval ci.lb ci.ub
#   bcg_fit.tsv           method test k p tau2 se.tau2 QM QMdf1 QMdf2 QMp QE QEp I2 H2 R2
#   bcg_permutest.tsv     exact permutation test (permutest(exact = TRUE)) on the first 6 trials, yi ~ ablat
#   bcg_regtest.tsv       Egger's regression test, regtest(rma(yi, vi, method = m)) (model "rma", predictor "sei")
# ML and REML are run twice: "tight" = control(threshold = 1e-12, maxiter = 10000) (fully converged, our
# default) and "default" = metafor's default control (threshold 1e-5, maxiter 100).
suppressPackageStartupMessages(library(metafor))
dat <- read.csv("../../../../shared/reference/peer/dat.bcg.csv")
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat)
g <- function(x) sprintf("%.17g", x)

coefs <- list(); fits <- list()
runs <- list(
  list("FE", NULL, "FE"), list("DL", NULL, "DL"), list("HE", NULL, "HE"), list("SJ", NULL, "SJ"),
  list("PM", NULL, "PM"),
  list("ML", list(threshold = 1e-12, maxiter = 10000), "ML"),
  list("REML", list(threshold = 1e-12, maxiter = 10000), "REML"),
  list("ML", list(), "ML.default"), list("REML", list(), "REML.default"))
for (r in runs) for (test in c("z", "knha")) {
  args <- list(yi = dat$yi, vi = dat$vi, mods = ~ ablat + year, data = dat, method = r[[1]], test = test)
  if (!is.null(r[[2]])) args$control <- r[[2]]
  fit <- suppressWarnings(do.call(rma, args))
  coefs[[length(coefs) + 1]] <- data.frame(
    method = r[[3]], test = test, term = rownames(fit$beta), estimate = g(fit$beta[, 1]), se = g(fit$se),
    zval = g(fit$zval), pval = g(fit$pval), ci.lb = g(fit$ci.lb), ci.ub = g(fit$ci.ub))
  fits[[length(fits) + 1]] <- data.frame(
    method = r[[3]], test = test, k = fit$k, p = fit$p, tau2 = g(fit$tau2),
    se.tau2 = g(fit$se.tau2), QM = g(fit$QM), QMdf1 = fit$QMdf[1], QMdf2 = fit$QMdf[2], QMp = g(fit$QMp),
    QE = g(fit$QE), QEp = g(fit$QEp), I2 = g(fit$I2), H2 = g(fit$H2),
    R2 = g(if (is.null(fit$R2)) NA else fit$R2))
}
write.table(do.call(rbind, coefs), "bcg_coefficients.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(do.call(rbind, fits), "bcg_fit.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

small <- dat[1:6, ]
perm <- list()
for (test in c("z", "knha")) {
  fit <- rma(yi, vi, mods = ~ ablat, data = small, method = "REML", test = test)
  pt <- permutest(fit, exact = TRUE, progbar = FALSE)
  perm[[test]] <- data.frame(test = test, term = rownames(fit$beta), pval = g(pt$pval), QMp = g(pt$QMp),
                             zval = g(fit$zval), QM = g(fit$QM))
}
write.table(do.call(rbind, perm), "bcg_permutest.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

eg <- list()
for (m in c("REML", "DL", "FE")) {
  rt <- regtest(rma(yi, vi, data = dat, method = m, control = list(threshold = 1e-12, maxiter = 10000)))
  eg[[m]] <- data.frame(method = m, zval = g(rt$zval), pval = g(rt$pval), limit = g(rt$est))
}
write.table(do.call(rbind, eg), "bcg_regtest.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

# Golden row for osteobiome.meta.pool(method="FE", test="knha") on the BCG trials: ../shared's
# bcg_expected.tsv has every other method x test, but not this one (metafor warns that Knapp-Hartung "is not
# meant to be used" with FE models, and computes it: t test on k - 1 df, standard error scaled by sqrt(QE/(k-1))).
# Input read from ../shared (not copied here). Run from this folder: Rscript make.R  (metafor 3.8-1)
suppressMessages(library(metafor))
d <- read.delim("../../../../shared/reference/metafor/bcg_input.tsv")
r <- suppressWarnings(rma(yi, vi, data = d, method = "FE", test = "knha"))
fmt <- function(x) ifelse(is.null(x) || is.na(x), "NA", sprintf("%.15g", x))
row <- data.frame(method = "FE", test = "knha", coef = fmt(r$beta[1]), stderr = fmt(r$se), pval = fmt(r$pval),
                  ci.lb = fmt(r$ci.lb), ci.ub = fmt(r$ci.ub), tau2 = fmt(r$tau2), stderr.tau2 = "NA",
                  QE = fmt(r$QE), QEp = fmt(r$QEp), I2 = fmt(r$I2), H2 = fmt(r$H2), check.names = FALSE)
write.table(row, "bcg_fe_knha_expected.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

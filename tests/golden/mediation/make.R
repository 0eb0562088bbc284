# Golden file for osteobiome.mediate(..., preset = "maaslin2"): written ONCE with R here (Rscript make.R).
# Simulates a small cohort (counts, metadata, mediators; one sample without outcome, mediator values missing),
# computes MaAsLin2's exposures (10% prevalence filter, TSS, log2 with zeros -> half the feature's smallest
# non-zero value, over all samples) and, per (feature, mediator) pair on that pair's complete cases, fits with
# lm() on scale()d exposure, mediator, outcome and age:
#   alpha: mediator ~ exposure + age + sex + site;  beta/direct: outcome ~ mediator + exposure + age + sex + site;
#   total: outcome ~ exposure + age + sex + site.
set.seed(20261206)
n <- 80; p <- 7; k <- 4
ids <- sprintf("S%02d", 1:n)
genera <- c("Faecalibacterium", "Roseburia", "Bacteroides", "Blautia", "Akkermansia", "Prevotella_9", "Rare_genus")
lam <- matrix(rgamma(n * p, shape = 0.8, rate = 0.01), n, p)
counts <- matrix(rpois(n * p, lam), n, p, dimnames = list(ids, genera))
counts[, "Rare_genus"] <- 0; counts[1:5, "Rare_genus"] <- 3   # below 10% prevalence: filtered out
counts[sample(n, 15), "Akkermansia"] <- 0
meta <- data.frame(sample = ids, age = round(rnorm(n, 62, 8), 1), sex = sample(c("F", "M"), n, TRUE),
                   site = sample(c("A", "B", "C"), n, TRUE), stringsAsFactors = FALSE)
tss <- counts / rowSums(counts)
x1 <- log2(tss[, 1] + 1e-4)
med <- data.frame(butyrate = 0.6 * scale(x1)[, 1] + rnorm(n), deoxycholic_acid = rnorm(n),
                  serotonin = 0.3 * scale(log2(tss[, 3] + 1e-4))[, 1] + rnorm(n), m4 = rnorm(n))
meta$bmd <- 0.5 * med$butyrate + 0.02 * meta$age + rnorm(n)
meta$bmd[7] <- NA
med$deoxycholic_acid[c(3, 11, 40)] <- NA
write.table(meta, "metadata.tsv", sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")
write.table(cbind(sample = ids, as.data.frame(counts)), "counts.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(cbind(sample = ids, med), "mediators.tsv", sep = "\t", quote = FALSE, row.names = FALSE, na = "NA")

kept <- colSums(counts > 0) > n * 0.1 & apply(counts, 2, var) > 0
rel <- counts[, kept] / rowSums(counts[, kept])
expo <- apply(rel, 2, function(v) log2(ifelse(v == 0, min(v[v > 0]) / 2, v)))
meta$sex <- factor(meta$sex); meta$site <- factor(meta$site)
rows <- list()
for (g in colnames(expo)) for (m in colnames(med)) {
  d <- data.frame(x = expo[, g], m = med[[m]], y = meta$bmd, age = meta$age, sex = meta$sex, site = meta$site)
  d <- d[complete.cases(d), ]
  d$x <- scale(d$x)[, 1]; d$m <- scale(d$m)[, 1]; d$y <- scale(d$y)[, 1]; d$age <- scale(d$age)[, 1]
  a <- summary(lm(m ~ x + age + sex + site, data = d))$coefficients
  b <- summary(lm(y ~ m + x + age + sex + site, data = d))$coefficients
  tot <- coef(lm(y ~ x + age + sex + site, data = d))[["x"]]
  rows[[length(rows) + 1]] <- data.frame(
    feature = g, mediator = m, alpha = a["x", 1], alpha.se = a["x", 2], pval.alpha = a["x", 4],
    beta = b["m", 1], beta.se = b["m", 2], pval.beta = b["m", 4], indirect = a["x", 1] * b["m", 1],
    direct = b["x", 1], total = tot, N = nrow(d), check.names = FALSE)
}
out <- do.call(rbind, rows)
write.table(format(out, digits = 17), "expected.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

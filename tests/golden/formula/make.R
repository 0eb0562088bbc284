# Golden outputs for osteobiome's formula / group / ordered / contrast tests (issue 20).
# Run once from this folder with ../shared beside the repository:  Rscript make.R
# Data: MaAsLin2's HMP2 example (../shared/reference/maaslin2_hmp2), preprocessed as MaAsLin2 1.15 does:
# filter on raw values (non-zero in > 10% of samples, variance > 0), TSS over the retained features, LOG = log2
# with zeros replaced by half the feature's smallest non-zero value, numeric metadata z-scored over all rows.
shared <- "../../../../shared/reference/maaslin2_hmp2"
feat <- read.delim(file.path(shared, "HMP2_taxonomy.tsv"), row.names = 1, check.names = FALSE)
meta <- read.delim(file.path(shared, "HMP2_metadata.tsv"), row.names = 1, check.names = FALSE)
ids <- intersect(rownames(feat), rownames(meta))
feat <- feat[ids, , drop = FALSE]; meta <- meta[ids, , drop = FALSE]
keep <- colSums(feat > 0) > 0.1 * nrow(feat) & apply(feat, 2, var) > 0
feat <- feat[, keep, drop = FALSE]
feat <- feat / rowSums(feat)
feat <- apply(feat, 2, function(y) { y[y == 0] <- min(y[y > 0]) / 2; log2(y) })
meta$dysbiosis <- as.numeric(scale(meta$dysbiosis))
meta$age <- as.numeric(scale(meta$age))
meta$diagnosis <- relevel(factor(meta$diagnosis), ref = "nonIBD")
meta$antibiotics <- relevel(factor(meta$antibiotics), ref = "No")
site_levels <- sort(unique(meta$site))
meta$site_ordered <- factor(meta$site, levels = site_levels)
contrasts(meta$site_ordered) <- MASS::contr.sdif(length(site_levels))
colnames(contrasts(meta$site_ordered)) <- site_levels[-1]

rows <- list(); groups <- list(); ordered <- list(); contrast <- list()
for (f in colnames(feat)) {
  d <- cbind(y = feat[, f], meta)
  full <- lm(y ~ dysbiosis * antibiotics + age + diagnosis, data = d)
  s <- summary(full)$coefficients
  s <- s[rownames(s) != "(Intercept)", , drop = FALSE]
  rows[[f]] <- data.frame(feature = f, name = rownames(s), coef = s[, 1], stderr = s[, 2], pval = s[, 4])
  used <- model.frame(full)
  reduced <- lm(y ~ dysbiosis * antibiotics + age, data = used)
  a <- anova(reduced, full)
  groups[[f]] <- data.frame(feature = f, F = a$F[2], pval = a$`Pr(>F)`[2], df = a$Res.Df[2])
  o <- summary(lm(y ~ dysbiosis + site_ordered, data = d))$coefficients
  o <- o[grepl("^site_ordered", rownames(o)), , drop = FALSE]
  ordered[[f]] <- data.frame(feature = f, level = sub("^site_ordered", "", rownames(o)), coef = o[, 1], stderr = o[, 2], pval = o[, 4])
  b <- coef(full); V <- vcov(full)
  cvec <- setNames(numeric(length(b)), names(b)); cvec["diagnosisUC"] <- 1; cvec["diagnosisCD"] <- -1
  est <- sum(cvec * b); se <- sqrt(drop(t(cvec) %*% V %*% cvec))
  contrast[[f]] <- data.frame(feature = f, contrast = "UC_vs_CD", coef = est, stderr = se,
                              pval = 2 * pt(-abs(est / se), df.residual(full)))
}
write_out <- function(x, name) {
  x <- do.call(rbind, x)
  write.table(format(x, digits = 17), name, sep = "\t", quote = FALSE, row.names = FALSE)
}
rows <- do.call(rbind, rows)
rows$qval <- p.adjust(rows$pval, "BH")  # MaAsLin2: BH over every coefficient of the call
write.table(format(rows, digits = 17), "lm_interaction.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write_out(groups, "anova_diagnosis.tsv")
write_out(ordered, "ordered_site.tsv")
write_out(contrast, "contrast_uc_cd.tsv")
cat(R.version.string, "\n", file = "R_VERSION")

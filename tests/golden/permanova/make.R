# Golden file for osteobiome.diversity.permanova: vegan's adonis2 p-values with an explicit permutation matrix,
# so our p-values must match exactly: p = (#{F_perm >= F_obs} + 1) / (permutations + 1).
# Run from this folder: Rscript make.R  (vegan 2.6-4 wrote the committed outputs)
suppressMessages(library(vegan))
set.seed(141)
n <- 30
m <- 12
meta <- data.frame(group = rep(c("a", "b"), each = n / 2), x = round(rnorm(n), 4))
rownames(meta) <- sprintf("S%02d", 1:n)
mu <- matrix(rgamma(n * m, shape = 0.8, scale = 30), n) * exp(outer(meta$group == "b", seq(-0.6, 0.6, length.out = m)))
counts <- matrix(rpois(n * m, mu), n, dimnames = list(rownames(meta), sprintf("F%02d", 1:m)))
counts[, 1] <- counts[, 1] + 1
d <- vegdist(counts, "bray")
perms <- shuffleSet(n, 99)  # 99 permutations, one per row, 1-based
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.15g", x))
rows <- list()
for (by in c("terms", "margin")) {
  res <- adonis2(d ~ group + x, data = meta, permutations = perms, by = by)
  rows[[by]] <- data.frame(by = by, term = rownames(res), Df = res$Df, SumOfSqs = fmt(res$SumOfSqs),
                           R2 = fmt(res$R2), F = fmt(res$F), pval = fmt(res$`Pr(>F)`))
}
write.table(cbind(sample = rownames(counts), counts), "counts.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(cbind(sample = rownames(meta), meta), "metadata.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(perms, "permutations.tsv", sep = "\t", quote = FALSE, row.names = FALSE, col.names = FALSE)
write.table(do.call(rbind, rows), "adonis2_expected.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

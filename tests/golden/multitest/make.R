# Golden file for osteobiome.stats.multitest.adjust: R's p.adjust on p-values where the step-up running
# minimum matters (p * m / rank is not monotone: BH's raw values at ranks 3-5 and 8-9 are lowered by the ones
# above them), in shuffled order, with a tie and a missing value (NA is left out of m, as p.adjust does).
# Run from this folder: Rscript make.R  (R 4.x stats)
p <- c(0.042, 0.205, 0.001, 0.039, NA, 0.074, 0.216, 0.008, 0.041, 0.06, 0.212, 0.041)
out <- data.frame(p = p)
for (method in c("BH", "BY", "holm", "hochberg", "bonferroni")) out[[method]] <- p.adjust(p, method)
fmt <- function(x) ifelse(is.na(x), "NA", sprintf("%.17g", x))
write.table(data.frame(lapply(out, fmt), check.names = FALSE), "p_adjust_expected.tsv", sep = "\t", quote = FALSE,
            row.names = FALSE)

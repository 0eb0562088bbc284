# Golden file for osteobiome.diversity.pcoa: vegan's PCoA of a Bray-Curtis distance (non-Euclidean:
# negative eigenvalues). Run from this folder: Rscript make.R  (vegan 2.6-4 wrote the committed outputs)
#
# vegan's PCoA, capscale(d ~ 1), keeps the positive eigenvalues (MDS1...) and its summary(eigenvals())
# "Proportion Explained" is each eigenvalue / the sum of the POSITIVE eigenvalues. (wcmdscale()/dbrda() instead
# divide by the sum of all eigenvalues, negative ones included, i.e. the trace of Gower's matrix; eigenvalues.tsv
# keeps them all so a test can tell the two definitions apart.)
suppressMessages(library(vegan))
set.seed(14)
n <- 20
m <- 12
mu <- matrix(rgamma(n * m, shape = 0.6, scale = 40), n)
counts <- matrix(rpois(n * m, mu), n, dimnames = list(sprintf("S%02d", 1:n), sprintf("F%02d", 1:m)))
counts[, 1] <- counts[, 1] + 1  # no empty sample
d <- vegdist(counts, "bray")
pcoa <- capscale(d ~ 1)
ev <- eigenvals(pcoa)
expl <- summary(ev)["Proportion Explained", ]
all <- cmdscale(d, k = n - 1, eig = TRUE)$eig
fmt <- function(x) sprintf("%.15g", x)
write.table(cbind(sample = rownames(counts), counts), "counts.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(axis = sub("MDS", "PC", names(ev)), eigenvalue = fmt(ev), proportion_explained = fmt(expl)),
            "capscale_proportion_explained.tsv", sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(eigenvalue = fmt(all)), "eigenvalues.tsv", sep = "\t", quote = FALSE, row.names = FALSE)

# The data both golden scripts fit (sourced by make.R and make_tight.R): MaAsLin2's HMP2 example as the
# default preset prepares it — features present (> 0) in more than 10% of all samples, TSS over the retained
# features, numeric metadata z-scored over all samples (sd with n - 1), complete cases of the fixed effects,
# diagnosis against nonIBD. Needs `folder` (the HMP2 data); defines `meta`, `rel` and `labels`.
taxa <- read.delim(file.path(folder, "HMP2_taxonomy.tsv"), check.names = FALSE, row.names = 1)
meta <- read.delim(file.path(folder, "HMP2_metadata.tsv"), check.names = FALSE, row.names = 1)
meta <- meta[rownames(taxa), ]
taxa <- as.matrix(taxa)
keep <- colSums(taxa > 0) > 0.1 * nrow(taxa)
rel <- taxa[, keep] / rowSums(taxa[, keep])
meta$dysbiosis <- as.numeric(scale(meta$dysbiosis))
meta$age <- as.numeric(scale(meta$age))
meta$diagnosis <- relevel(factor(meta$diagnosis), ref = "nonIBD")
meta$antibiotics <- factor(meta$antibiotics)
meta$subject <- factor(meta$subject)
complete <- complete.cases(meta[, c("diagnosis", "dysbiosis", "antibiotics", "age", "subject")])
meta <- meta[complete, ]
rel <- rel[complete, , drop = FALSE]
labels <- c(diagnosisCD = "diagnosis\tCD", diagnosisUC = "diagnosis\tUC", dysbiosis = "dysbiosis\tdysbiosis",
            antibioticsYes = "antibiotics\tYes", age = "age\tage")

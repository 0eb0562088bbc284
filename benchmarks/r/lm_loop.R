# Per-feature lm loop (MaAsLin2's fitting step, without its data-frame bookkeeping) on the transformed table
# and the design written by benchmarks/bench_associate.py; prints the seconds of `calls` repeats of the loop
# (reading excluded). Usage: Rscript lm_loop.R transformed.tsv metadata.tsv calls
args <- commandArgs(trailingOnly = TRUE)
y <- as.matrix(read.delim(args[1], row.names = 1, check.names = FALSE))
meta <- read.delim(args[2], row.names = 1, stringsAsFactors = TRUE)
calls <- as.integer(args[3])
formula <- as.formula(paste("expr ~", paste(colnames(meta), collapse = " + ")))
timing <- system.time(for (call in seq_len(calls)) {
  for (j in seq_len(ncol(y))) {
    frame <- meta
    frame$expr <- y[, j]
    fit <- summary(lm(formula, data = frame))$coefficients
  }
})
cat(sprintf("SECONDS %.4f\n", timing[["elapsed"]]))
cat(sprintf("CPU %.4f\n", timing[["user.self"]] + timing[["sys.self"]]))

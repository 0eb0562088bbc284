"""Where work runs: blocks in this process or on dask and worker-process pools (:mod:`~osteobiome.compute.executors`),
and the memory check (:mod:`~osteobiome.compute.memory`)."""

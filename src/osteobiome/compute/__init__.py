"""Where work runs: feature blocks in this process or on Dask (:mod:`~osteobiome.compute.blocks`), worker
processes (:mod:`~osteobiome.compute.processes`) and the memory check (:mod:`~osteobiome.compute.memory`)."""

"""How many submissions are graded at once: a local process pool or a Dask cluster."""

"""Batch hosts: JSON lines files in and out, a process pool, Dask (see `job.run_job`)."""

"""Course machinery beside the kernels: recorded GPU runs, exercises, checks, hints, progress."""

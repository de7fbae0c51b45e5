"""Layer 5 of tracking: MLflow's fluent API (the active run, start_run,
log_param...) and the buffer that batches what a process logs."""

"""Layer 2 of tracking: MLflow 3's logged models (their records, params, tags,
metrics and status) stored as Model artifacts of the lineage graph."""

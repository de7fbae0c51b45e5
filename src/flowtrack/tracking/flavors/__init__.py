"""Layer 6 of tracking: saved models in MLflow's directory format (MLmodel,
requirements, the pickled model), logging them to a run and loading them back."""

"""Layer 4 of tracking: the same store interface over HTTP, talking to a
flowtrack (or mlflow) tracking server with MLflow's REST protocol."""

"""Layer 6 of tracking: TrackingClient, MLflow's explicit client API."""

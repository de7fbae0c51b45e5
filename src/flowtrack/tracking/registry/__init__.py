"""Layer 3 of tracking: the model registry (registered models, versions,
aliases, tags) as lineage contexts around the Model artifacts they register."""

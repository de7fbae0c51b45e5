"""Layer 0 of tracking: the records MLflow's API hands out (runs, experiments,
metrics, datasets), the rules every value is checked against, model signatures, the
search-filter grammar, and filtering records held in memory. Nothing here touches a
database or a file; every other tracking layer builds on these."""

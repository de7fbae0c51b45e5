"""Layer 3 of tracking: MLflow 3's GenAI traces (their info, tags, metadata, links to
runs and assessments) as ``Trace`` executions of the lineage graph, in the experiment
they belong to."""

"""Layer 3 of tracking: MLflow 3's GenAI evaluation records: registered scorers (and
their online scoring settings) and evaluation datasets with their records, each a
context of the lineage graph under the experiments it belongs to."""

"""Layer 1 of tracking: runs, experiments, params, tags and metric histories kept
as nodes of the lineage graph in SQL (SQLite or PostgreSQL), the search of runs
compiled to SQL, and the lineage records the layers above share."""

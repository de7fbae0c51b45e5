"""Layer 3 of tracking: the files a run logs (kept in the blob store, listed in
lineage) and the datasets a run takes as input."""

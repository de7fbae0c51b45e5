"""The names ``flowtrack`` serves lazily from its subpackages, listed once: the
package root uses them for ``__getattr__`` without importing the subpackages, and
``flowtrack.tracking`` checks its exports against them."""

from __future__ import annotations

CLIENT_NAMES = frozenset({"Flow", "Run", "Step", "Task", "DataArtifact", "Metaflow",
                          "namespace", "get_namespace", "default_namespace", "get_metadata"})

# MLflow's fluent API, from flowtrack.tracking
TRACKING_NAMES = frozenset({
    "active_run", "create_experiment", "delete_run", "delete_tag", "end_run",
    "flush_async_logging",
    "get_artifact_uri", "get_experiment", "get_experiment_by_name", "get_run",
    "get_tracking_uri", "last_active_run", "log_artifact", "log_artifacts", "log_dict",
    "log_figure", "log_input", "log_metric", "log_metrics", "log_param", "log_params",
    "log_text", "register_model", "search_experiments", "search_runs", "set_experiment",
    "set_tag", "set_tags", "set_tracking_uri", "start_run", "TrackingClient",
})

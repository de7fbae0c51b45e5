"""Show the latest MnistFlow run through the client API.

Run from the directory the flow ran in (``examples/mnist``)::

    python show_run.py
"""

from flowtrack import Flow


def main():
    """Print the run's pathspec, steps, status and the two accuracies."""
    run = Flow("MnistFlow").latest_run
    print(f"run:        {run.pathspec}")
    print(f"successful: {run.successful}")
    print(f"steps:      {', '.join(step.id for step in reversed(list(run)))}")
    print(f"GaussianNB accuracy:   {run.data.gnb_accuracy:.4f}")
    print(f"RandomForest accuracy: {run.data.rf_accuracy:.4f}")
    print(f"best model: {run['evaluate'].task.data.best_model}")


if __name__ == "__main__":
    main()

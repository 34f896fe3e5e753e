"""Many runs at once: planning a sweep (`plan`), running it on Dask (`runner`, with the client from `cluster`) and
seed ensembles (`ensemble`). `plan_sweep` and `run_sweep` are importable from here."""

__all__ = ["plan_sweep", "run_sweep"]


def __getattr__(name: str):
    # imported on first use: `import trainer.sweep.plan` must not load Dask
    if name == "plan_sweep":
        from trainer.sweep.plan import plan_sweep

        return plan_sweep
    if name == "run_sweep":
        from trainer.sweep.runner import run_sweep

        return run_sweep
    raise AttributeError(f"module 'trainer.sweep' has no attribute {name!r}")

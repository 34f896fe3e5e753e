"""Minimal PyTorch trainer that writes one crash-safe HDF5 run file per run; `RunWriter` logs any PyTorch loop."""

__version__ = "0.1.0"
__all__ = ["RunWriter", "__version__"]


def __getattr__(name: str):
    # imported on first use, so that `import trainer` (and `train --help`) stays fast
    if name == "RunWriter":
        from trainer.runfile.writer import RunWriter

        return RunWriter
    raise AttributeError(f"module 'trainer' has no attribute {name!r}")

"""Minimal PyTorch trainer that writes one crash-safe HDF5 run file per run."""

__version__ = "0.1.0"

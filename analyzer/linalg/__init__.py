"""Linear algebra on run checkpoints: operators, Krylov/Lanczos solvers and kernels (the NTK: ntk.py)."""

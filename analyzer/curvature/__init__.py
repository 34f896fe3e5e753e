"""Curvature at a checkpoint of a run: the machinery the Hessian and escape analyses share, below both.

The live block of a plain MLP (live.py), the extreme eigenpairs by the chosen method (eigen.py), a checkpoint's row
with its saddle index, trace and cost (saddle.py, trace.py, piecewise.py, sensitivity.py), how an index may be shown
(index_status.py), a linearised twin's exact Gram route (twin.py), and the cost plan with its timed HVP
(cost.py, hvp_timing.py). It reads runs through analyzer.io and multiplies through analyzer.linalg's operators;
it imports no analysis. The modules that import torch are imported where they are needed (the CLI starts without
it), so this package exports nothing.
"""

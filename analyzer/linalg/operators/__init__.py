"""Curvature operators behind one interface (base.py: `CurvatureOperator`, a scipy LinearOperator that counts its
products): the autograd Hessian (hessian.py), a plain MLP's Hessian by the R-operator (mlp_hessian.py), the
Gauss-Newton matrix (ggn.py), the Jacobian (jacobian.py), the empirical NTK K = J J^T (ntk.py) and a dense matrix
(dense.py). Import each from its module; every one is checked against a dense float64 oracle in
tests/analyzer/linalg/test_operators.py."""

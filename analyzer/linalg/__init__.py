"""Model-independent linear algebra: Hessian-vector operators, dense and Lanczos eigensolvers, the certified
subspace run, Krylov quadrature, the saddle index, kernel algebra (kernel.py: K = J J^T as an operator, its
eigenpairs, sign-fixed SVDs) and the linearised GD dynamics (gd_dynamics.py). Nothing here reads a run or
builds a model: that is analyzer/io/ (ntk_net.py, ntk_checkpoint.py) and the analyses."""

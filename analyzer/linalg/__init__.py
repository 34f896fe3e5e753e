"""Model-independent linear algebra: curvature operators behind one interface (operators/: the Hessian, the MLP
Hessian, the Gauss-Newton matrix, the Jacobian, the NTK kernel), their one result type (eigenpairs.py), dense and
Lanczos eigensolvers, the certified subspace run, Krylov quadrature, the saddle index, kernel eigenpairs and
sign-fixed SVDs (kernel.py) and the linearised GD dynamics (gd_dynamics.py). Nothing here reads a run or builds a
model (that is analyzer/io/: ntk_net.py, ntk_checkpoint.py, and the analyses), and nothing here imports a package
above it."""

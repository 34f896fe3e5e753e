"""Linear algebra on checkpoints: Hessian-vector operators, dense and Lanczos eigensolvers, the certified
subspace run, Krylov quadrature, the saddle index, and the empirical NTK (ntk.py: Jacobian, kernel, SVD;
ntk_dynamics.py: the linearised GD dynamics the ntk and mask analyses hold runs against)."""

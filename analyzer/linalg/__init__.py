"""Linear algebra on Hessian-vector products: the operator, dense and Lanczos eigensolvers, the certified
subspace run, Krylov quadrature and the saddle index."""

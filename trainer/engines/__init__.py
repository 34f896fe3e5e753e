"""Training: the loop over steps (`loop`: train, resume), its two steps (`engine`: torch autograd, `fused`: a
hand-written ReLU-MLP step) and the vectorized ensemble step (`batched`)."""

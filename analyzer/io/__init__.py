"""Reading run files: the read-only Run view, the model rebuilt from it, and the empirical NTK of that model."""

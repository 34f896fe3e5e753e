"""Reading run files: the read-only Run view and the model rebuilt from it."""

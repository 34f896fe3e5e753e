"""Many runs at once (`analyze study`): per-preset summaries across seeds, pooled tests, the noise floor."""

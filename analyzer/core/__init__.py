"""The analyzer's machinery, written once for every analysis: registry, parameters, serialization, cache, runner."""

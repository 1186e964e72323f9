"""Benchmarks of the fan-out engine, with the raw and naive baselines measured in the same run."""

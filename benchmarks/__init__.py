"""Benchmark harness for autograd_core against a numpy floor and installed peers (not tests)."""

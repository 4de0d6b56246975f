"""Roofline latency and energy simulator for neural networks."""

"""Backtest engine, feed and Hydra entry point (the engine lands with its issue)."""

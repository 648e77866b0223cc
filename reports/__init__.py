"""Rendering run and sweep results to HTML and CSV."""

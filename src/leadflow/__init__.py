"""leadflow: capture, score, route, work and measure B2B sales leads."""

__version__ = "0.1.0"

"""MNIST drill-down: a tiny CNN to 99.4 % in 15 epochs, under 10k parameters."""

__version__ = "0.1.0"

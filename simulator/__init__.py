"""Simulator: synthetic IQ, rendered plates, many radars at once, ground-truth reports."""

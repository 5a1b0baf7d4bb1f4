"""Analyses behind the views: pure functions of a checkpoint's weights and grid activations.

fourier    the Fourier basis over Z_p, embedding norms, 2-D spectra, key frequencies
probes     sparse linear probes: cos/sin(2πkx/p) from a few embedding dimensions
neurons    MLP neurons on the grid, waves at fixed x, neurons that show the loops
crests     surfaces that depend only on x + y, and where they peak
attention  attention from "=" to x and y, each head's frequency
progress   restricted / excluded loss and other progress measures, per checkpoint and per series

Import the module you need (`from grok_core.analysis import fourier`); nothing is imported here,
so `python -m grok_core.analysis.progress SERIES` (precompute and cache a series' progress) runs cleanly.
"""

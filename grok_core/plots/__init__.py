"""Plotly figure builders for the explorer: numpy in, a plotly figure out, no streamlit.

base.py holds the plumbing (colours, the dict-backed Figure, layout helpers); one module per view
holds its builders. Everything a page draws is importable from here: `plots.neuron_waves(...)`.
"""

from .attention import attention_heads, attention_vs_x
from .base import (
                   ATTENTION,
                   CYCLIC,
                   DIVERGING,
                   MAGNITUDE,
                   PHASE_COLORS,
                   QUALITATIVE,
                   SEQUENTIAL,
                   TEST,
                   TRAIN,
                   Figure,
                   figure,
                   png_config,
)
from .crests import crest_lines, diagonal_profile
from .curves import accuracy_curves, loss_curves
from .embeddings import freq_norms, probe_circles, probe_curves
from .inputs import answer_probs, embedding_matrix, one_hot_matrix
from .neurons import neuron_waves, scatter_grid
from .progress import progress_losses, progress_panels
from .surfaces import (
                   decomposition,
                   spectrum_2d,
                   surface_3d,
                   surface_3d_animated,
                   surface_heatmap,
                   top_terms_bar,
                   trig_identity,
)
from .training import live_curves

__all__ = [
    "ATTENTION", "CYCLIC", "DIVERGING", "MAGNITUDE", "PHASE_COLORS", "QUALITATIVE", "SEQUENTIAL", "TEST", "TRAIN",
    "Figure", "figure", "png_config", "attention_heads", "attention_vs_x", "crest_lines", "diagonal_profile",
    "accuracy_curves", "loss_curves", "freq_norms", "probe_circles", "probe_curves", "answer_probs",
    "embedding_matrix", "one_hot_matrix", "neuron_waves", "scatter_grid", "progress_losses", "progress_panels",
    "decomposition", "spectrum_2d", "surface_3d", "surface_3d_animated", "surface_heatmap", "top_terms_bar",
    "trig_identity", "live_curves",
]

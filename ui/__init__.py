"""The Streamlit side of the explorer: the shared frame of every page (frame.py), caching (cache.py), the
selection and URL sync (state.py), what pages do alike (view.py), in-place charts (charts.py), training jobs."""

import os

# Before torch loads (every page imports ui first): OpenMP threads that spin-wait between operations take the CPU
# the browser needs to draw (on two cores the app's per-step time fell from ~100-150 ms to ~25-35 ms).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

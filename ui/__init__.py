"""UI-side helpers for the Streamlit app: caching (cache.py) and the shared selection + URL sync (state.py)."""

"""grok_core: model, data, checkpoint series, training and analysis for grokking modular addition.

Never imports streamlit: the app in `app.py` / `pages/` is a thin layer on top of this library.
"""

__version__ = "0.1.0"

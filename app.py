"""Grokking Explorer: drag through the training of a transformer learning (x + y) mod 113.

Run: streamlit run app.py. The app uses Streamlit's pages/ mode: each file in pages/ is one view at
/<file name> (pages/waves.py is /waves), and each draws the shared frame of ui/frame.py (navigation,
series picker, step control, Play, URL sync) around its own content. This entry point, at the root URL,
opens the training curves with the link's query parameters.
"""

import streamlit as st

import ui  # noqa: F401 (sets the OpenMP wait policy before any page loads torch)

st.set_page_config(page_title="Grokking Explorer", page_icon=":material/blur_on:", layout="wide")
st.switch_page("pages/curves.py", query_params=st.query_params.to_dict())

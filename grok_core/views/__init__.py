"""Every view's readings: what a page shows for one step, as small dataclasses, from plain arguments.

The pages (pages/*.py) hold no maths: each number they show or choose their words from comes from a
function here. Arguments are parameters or activations, the config and the view's settings; no
Streamlit, no caching (ui/cache.py caches these calls per step). One module per view:

  level       the 0-1 measures' three levels the texts follow (one rule for every view)
  reference   per series, on the last checkpoint: key frequencies, display frequency, showcase neurons
  curves      the metrics at the step and its phase (the phases themselves: grok_core.phases)
  inputs      one problem through the model
  waves       activations with x fixed (waves and the scatter grid) and how pure the waves are
  embeddings  Fourier norms of W_E, the probe circles, the key frequencies' share
  surfaces    one neuron over the grid, its spectrum and parts
  crests      the crest surfaces (logit, MLP output, neuron) and their crest
  attention   attention from '=' to x and each head's frequency
  progress    the progress measures at the step
  phase_diagram  the sweep's cells and runs for the phase-diagram page
"""

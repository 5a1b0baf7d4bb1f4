"""View 6: one neuron over the whole (x, y) grid, its 2-D Fourier spectrum, decomposition and the trig identity."""


from grok_core import plots
from grok_core.analysis.attention import frequency_order
from grok_core.phases import Phase
from ui import cache, state, view

sel = view.current()
view.header("Surfaces & spectra", sel)
p, d_mlp = sel.cfg.p, sel.cfg.d_mlp
showcase = cache.showcase_neurons(sel.series_id, 7)

c1, c2, c3 = view.columns([1, 1, 2])
neuron = state.int_control("neuron", "Neuron", 0, d_mlp - 1, showcase[0], container=c1)
k_default = cache.neuron_frequency(sel.series_id, neuron)
k = state.int_control("k", "Frequency k", 1, sel.cfg.n_frequencies, k_default, container=c2,
                      help="For the trig identity and the 3-D order; defaults to the neuron's main frequency in the "
                           "trained model.")
SHAPES = {"heatmap": "heatmap", "3d": "3-D", "3d-anim": "3-D over training"}
shape = state.choice_control("view", "Show the surface as", list(SHAPES), "heatmap", container=c3,
                             format_func=SHAPES.get,
                             help="3-D views are slow to draw without a graphics card, so they show about 40 values "
                                  "of x and of y (the heatmap shows all of them); the camera you set stays when the "
                                  "step changes. “3-D over training” holds checkpoints from all of training, with its "
                                  "own slider and play button.")
c4, c5 = view.columns(2)
EXPLAIN = {"terms": "its largest terms", "parts": "its components at frequency k", "identity": "the trig identity"}
explain_with = state.choice_control("explain", "Take the surface apart", list(EXPLAIN), "terms",
                                    format_func=EXPLAIN.get, container=c4)
ORDERS = {"frequency": f"k·x mod {p}", "value": "x itself"}
order = None
if shape != "heatmap":
    by = state.choice_control("order", "Order x and y in 3-D by", list(ORDERS), "frequency", format_func=ORDERS.get,
                              container=c5,
                              help="With about 40 values per side, a wave of frequency k in x order gets only a few "
                                   "points per cycle and looks like spikes. Ordered by k·x mod p (k from the box "
                                   "above), the same wave is one smooth cycle; hover shows the real x and y.")
    order = frequency_order(k, p) if by == "frequency" else None

spec = cache.surface_spectrum(sel.series_id, sel.step, neuron, k)
surface = spec.surface

share = spec.k_share
say = view.say(
    spec.level,
    f"The surface is speckled and its spectrum spread over many terms: frequency {k} carries only {share:.0%} of its "
    "variance." + {Phase.CIRCUIT_FORMING: " Step through this plateau and watch the terms of one frequency rise out of "
                                      "the spectrum."}.get(sel.phase, ""),
    f"A few terms of frequency {k} are rising out of the spectrum: they carry {share:.0%} of the surface's variance; "
    "the rest is memorised noise.",
    f"The surface is a smooth pattern of waves: {share:.0%} of it is a few terms of frequency {k}, cos {k}x, cos {k}y "
    f"and the products cos {k}x·cos {k}y, sin {k}x·sin {k}y.",
)
view.explain(
    f"Neuron #{neuron}'s activation for every sum x + y: {p}×{p} = {p * p:,} values. The 2-D Fourier transform "
    "rewrites it as a sum of products of waves in x and y. " + say
    + " Take it apart below; the trig identity shows the trick: cos·cos minus sin·sin is a wave of x + y alone, "
    "with crests where x + y ≡ c."
)
title = f"Neuron #{neuron} over all (x, y)"
left, right = view.columns(2)
with left:
    if shape == "3d":
        view.chart(plots.surface_3d(surface, title, sel.step, order=order, k=k), "neuron-surface-3d",
                   key="surface-3d")
    elif shape == "3d-anim":
        frames = cache.neuron_over_training(sel.series_id, neuron)
        view.chart(plots.surface_3d_animated(frames, f"Neuron #{neuron} across training (slider below the plot)",
                                             order=order, k=k),
                   "neuron-surface-3d-training", key="surface-3d-training")
    else:
        view.chart(plots.surface_heatmap(surface, title, sel.step), "neuron-surface")
with right:
    view.chart(plots.spectrum_2d(spec.coefs, sel.step, f"2-D Fourier spectrum of neuron #{neuron}"),
               "neuron-spectrum")
if explain_with == "terms":
    view.chart(plots.top_terms_bar(spec.top, sel.step), "neuron-top-terms")
elif explain_with == "parts":
    view.chart(plots.decomposition(spec.parts, sel.step, neuron), "neuron-decomposition")
else:
    view.chart(plots.trig_identity(spec.identity, k), "trig-identity")
view.done()

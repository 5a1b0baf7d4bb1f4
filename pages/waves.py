"""View 3: fix x, sweep y over 0..p-1 and plot MLP neurons: noise before grokking, clean waves after."""


from grok_core import plots
from grok_core.phases import Phase
from grok_core.views.waves import purity
from ui import cache, state, view

sel = view.current()
view.header("Neuron waves", sel)
p, d_mlp = sel.cfg.p, sel.cfg.d_mlp

c1, c2 = view.columns([1, 3])
x = state.int_control("x", "x (fixed)", 0, p - 1, 0, container=c1, help="The first number of the sum, held fixed.")
neurons = state.int_list_control("neurons", "Neurons", 0, d_mlp - 1, cache.showcase_neurons(sel.series_id, 7)[:5],
                                 max_len=10, container=c2,
                                 help=f"Up to 10 neuron numbers (0–{d_mlp - 1}), separated by commas. The default "
                                      "ones are picked on the final checkpoint, so you follow the same neurons "
                                      "through training.")
waves = cache.x_slice(sel.series_id, sel.step, x)[cache.HOOK_POST][:, neurons]

wp = purity(waves, sel.cfg)
say = view.say(
    wp.level,
    f"The curves are still mostly ragged: the strongest single frequency carries only {wp.mean:.0%} of a neuron's "
    f"variation on average (legend; a pure wave is 100%, noise about {wp.noise:.0%}). "
    + {Phase.MEMORISING: "The network is memorising: its response to y has almost no pattern yet.",
       Phase.CIRCUIT_FORMING: "Step through this plateau and watch that share grow: a wave is forming under the noise "
                          "although test accuracy has hardly moved."}.get(sel.phase, ""),
    f"Waves are rising out of the noise: {wp.freq_words} carries {wp.mean:.0%} of a neuron's variation on average (legend; 100% "
    "is a pure wave). " + {Phase.CLEANUP: "Weight decay is now removing the memorised noise on top of them."}.get(sel.phase, ""),
    f"Each neuron traces a clean wave: {wp.freq_words} carries {wp.mean:.0%} of its variation on average, a cosine of "
    f"2π·k·y/{p} clipped at zero by the ReLU. The network computes with sines and cosines of its inputs.",
)
view.explain(
    f"Each line is one MLP neuron's activation for the sums {x} + y, with y running from 0 to {p - 1}. "
    + say + " Drag the step slider to watch the waves form."
)
view.chart(plots.neuron_waves(waves, neurons, x, sel.step, purity=(wp.k, wp.share)), "neuron-waves")
view.done()

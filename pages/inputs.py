"""View 2: how 'x + y =' enters the model (one-hot 114×3 → embedding 128×3) and what it answers."""


from grok_core import plots
from ui import cache, state, view

sel = view.current()
view.header("Inputs: what the model sees", sel)
p = sel.cfg.p

c1, c2, _ = view.columns([1, 1, 3])
x = state.int_control("x", "x", 0, p - 1, 1, container=c1)
y = state.int_control("y", "y", 0, p - 1, 2, container=c2)
out = cache.one_problem(sel.series_id, sel.step, x, y)
in_train, answer, correct = out.in_train, out.answer, out.correct

view.explain(
    f"The model reads three tokens, **{x}**, **{y}** and **=**. Each becomes a one-hot column: a single 1 among "
    f"{sel.cfg.d_vocab} rows ({p} numbers plus '='). Multiplying by the embedding matrix W_E picks one column of "
    f"{sel.cfg.d_model} numbers per token. This sum is in the **{'training' if in_train else 'test'} set**"
    + ("" if in_train else " (the model never trained on it)")
    + f"; at step {sel.step:,} the model answers **{answer}**, "
    + ("which is right." if out.is_right else f"but the right answer is {correct}.")
)

a, b = view.columns(2)
with a:
    view.chart(plots.one_hot_matrix(list(out.tokens), sel.cfg.d_vocab), "one-hot-input")
with b:
    view.chart(plots.embedding_matrix(out.embed, list(out.tokens), sel.cfg.eq_token, sel.step),
               "embedding")
view.chart(plots.answer_probs(out.probs, correct, sel.step), "answer-probabilities")
view.done()

"""Animations: every view's figure at any step with the pages' URL parameters, and real MP4 / GIF files.

Frames are drawn by kaleido in Debian's chromium (one browser shared by the module's tests) and
read back with independent decoders: ffmpeg (imageio-ffmpeg) for the MP4, Pillow for the GIF.
The series is tiny (p = 23, random weights that change with the step), so a frame takes well
under a second; the bundled series is only opened to check the defaults the pages use.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageSequence

from grok_core import animate as anim
from grok_core.data import split_mask
from grok_core.model import init_params
from grok_core.series import SeriesWriter, open_series
from grok_core.view_frames import VIEWS, Context, Frames, ViewError, figure_at
from tests.conftest import TINY_MODEL, tiny_train

STEPS = [0, 10, 20, 30]


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A complete tiny series whose weights differ at every step, and made-up falling losses."""
    path = tmp_path_factory.mktemp("tiny")
    tcfg = tiny_train(n_steps=STEPS[-1], schedule=((10**9, 10),))
    w = SeriesWriter(path, TINY_MODEL, tcfg, split_mask(TINY_MODEL.p, tcfg.frac_train, tcfg.data_seed), title="tiny")
    for i, s in enumerate(STEPS):
        w.add_checkpoint(s, init_params(TINY_MODEL, seed=i))
        w.add_metrics(s, dict(train_loss=3.0 / (i + 1), test_loss=3.5 - 0.1 * i, train_acc=0.3 * i, test_acc=0.05 * i))
    w.flush(complete=True)
    return open_series(path)


@pytest.fixture(scope="module")
def renderer():
    try:
        anim.browser_path()
    except anim.AnimateError as e:
        pytest.skip(str(e))
    with anim.Renderer(tabs=2) as r:
        yield r


def _mp4_frames(path) -> list[np.ndarray]:
    import imageio_ffmpeg

    gen = imageio_ffmpeg.read_frames(str(path))
    meta = next(gen)
    w, h = meta["size"]
    return [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in gen]


# -- the views' figures, no browser ------------------------------------------------------------
@pytest.mark.parametrize("name", list(VIEWS))
def test_every_figure_of_every_view_builds_and_names_its_step(tiny, name):
    cx = Context(tiny)
    for fig in VIEWS[name].figures:
        spec = anim.titled(Frames(name, tiny, figure=fig, context=cx).at(20), 20, "cleanup")
        assert spec["data"], (name, fig)
        assert spec["layout"]["title"]["text"].endswith(" — step 20 (cleanup)"), (name, fig)
        assert "— step 20 — step" not in spec["layout"]["title"]["text"]  # the builder's own tail is replaced


def test_parameters_take_the_url_names_values_and_ranges(tiny):
    f = Frames("waves", tiny, x="4", neurons="3, 17,9")
    assert f.params == {"x": 4, "neurons": [3, 17, 9]}
    assert Frames("grid", tiny, n=3, neurons="1,2,3").params["neurons"] == [1, 2, 3]
    assert Frames("crests", tiny, source="mlp_out", c=5).params == {"source": "mlp_out", "c": 5, "neuron": None}
    errors = {
        ("waves", "neurons", "3,64"): "neurons: 64 is out of range; this series allows 0..63",
        ("waves", "x", "23"): "x: 23 is out of range; this series allows 0..22",
        ("waves", "x", "1.5"): "x='1.5' is not an integer",
        ("grid", "neurons", "1,2"): "neurons: give exactly 7 different numbers",
        ("crests", "source", "loss"): "source='loss' is not one of logit, mlp_out, neuron",
        ("embeddings", "k", "12"): "k: 12 is out of range; this series allows 1..11",
    }
    for (view, key, raw), msg in errors.items():
        with pytest.raises(ViewError, match=msg.replace("(", r"\(")):
            Frames(view, tiny, **{key: raw})
    with pytest.raises(ViewError, match="view curves has no parameter c"):
        Frames("curves", tiny, c=3)
    with pytest.raises(ViewError, match="unknown view 'crest'; views: curves, inputs"):
        Frames("crest", tiny)
    with pytest.raises(ViewError, match="no figure 'profile'; figures: crest-surface, crest-profile"):
        Frames("crests", tiny, figure="profile")


def test_defaults_are_the_pages_on_the_bundled_run(bundled):
    """The pages' defaults, picked on the final checkpoint: display frequency 8 and its showcase neurons
    (the same five the waves page shows; README's example links use them)."""
    cx = Context(bundled)
    assert cx.display_freq == min(cx.key_freqs) == 8
    waves = Frames("waves", bundled, context=cx).params
    assert waves == {"x": 0, "neurons": [498, 196, 112, 475, 76]}
    assert Frames("surfaces", bundled, context=cx).params["k"] == cx.neuron_freq(498) == 8
    assert figure_at("crests", bundled, 6400, c=7).title == "Logit of answer 7 — step 6400"


def test_steps_select_checkpoints_in_a_range():
    steps = [0, 10, 20, 30, 100, 200]
    assert anim.select_steps(steps, "10:100") == [10, 20, 30, 100]
    assert anim.select_steps(steps, ":20") == [0, 10, 20]
    assert anim.select_steps(steps, "20:") == [20, 30, 100, 200]
    assert anim.select_steps(steps, "0:200:2") == [0, 20, 100]
    assert anim.select_steps(steps, (15, 35)) == [20, 30]
    for bad, msg in [("5", "write A:B"), ("a:b", "write A:B"), ("300:400", "no checkpoint in steps '300:400'; this "
                     "series has steps 0..200"), ("0:10:0", "K must be at least 1")]:
        with pytest.raises(anim.AnimateError, match=msg):
            anim.select_steps(steps, bad)


def test_bad_input_is_refused_before_rendering_and_keeps_the_old_file(tiny, tmp_path):
    out = tmp_path / "talk.mp4"
    out.write_bytes(b"last week's animation")
    for kw, msg in [(dict(view="waves", params={"x": 99}), "x: 99 is out of range"),
                    (dict(view="nope"), "unknown view"),
                    (dict(view="waves", steps="50:60"), "no checkpoint in steps"),
                    (dict(view="waves", fps=0), "fps 0 is out of range")]:
        view = kw.pop("view")
        with pytest.raises(anim.AnimateError, match=msg):
            anim.animate(view, tiny, out, **kw)
    assert out.read_bytes() == b"last week's animation"
    with pytest.raises(anim.AnimateError, match="must end in .mp4 or .gif"):
        anim.animate("waves", tiny, tmp_path / "talk.avi")
    with pytest.raises(anim.AnimateError, match="no such folder"):
        anim.animate("waves", tiny, tmp_path / "missing" / "talk.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.mp4"]


# -- real files (the first pays for starting chromium: several seconds, hence slow) ----------------
@pytest.mark.slow
def test_mp4_has_one_frame_per_checkpoint_of_the_right_size_and_they_differ(tiny, renderer, tmp_path):
    out = tmp_path / "crests.mp4"
    seen = []
    res = anim.animate("crests", tiny, out, fps=5, params={"c": 3}, width=640, renderer=renderer,
                       progress=lambda done, total: seen.append((done, total)))
    assert res["steps"] == STEPS and res["frames"] == 4
    assert seen == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    frames = _mp4_frames(out)
    assert len(frames) == 4
    assert frames[0].shape == (448, 640, 3) == (res["size"][1], res["size"][0], 3)  # 440 px figure, rounded to 16
    assert not list(tmp_path.glob(".*partial*"))
    title, plot = slice(0, 45), slice(60, 440)  # rows: the title band, the heatmap
    for a, b in zip(frames, frames[1:]):
        changed = np.abs(a[title].astype(int) - b[title]).max(-1) > 80  # [45, 640]: clearly different pixels
        assert changed.sum() > 10  # the step number in the title: "step 0" -> "step 10" ...
        assert not changed[:, :150].any()  # ... after "Logit of answer 3 — step", which stays
        assert np.abs(a[plot].astype(int) - b[plot]).mean() > 2.0  # other weights, another surface
    assert frames[0][plot].std() > 20  # a drawn heatmap, not a blank frame


@pytest.mark.slow
def test_the_same_step_draws_the_same_pixels(tiny, renderer):
    """What differs between frames is the step: one step drawn twice gives identical PNGs."""
    f = Frames("waves", tiny)
    specs = [anim.titled(f.at(s), s) for s in (10, 10, 20)]
    a, b, c = (anim._png_to_rgb(renderer.submit(s, 640, 432).result()) for s in specs)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.slow
def test_gif_has_every_frame_loops_and_keeps_the_fps(tiny, renderer, tmp_path):
    out = tmp_path / "waves.gif"
    res = anim.animate("waves", tiny, out, steps="10:30", fps=4, width=480, renderer=renderer)
    with Image.open(out) as im:
        assert im.format == "GIF" and im.size == res["size"] == (480, 432)
        assert im.info["loop"] == 0 and im.info["duration"] == 250
        frames = [np.asarray(fr.convert("RGB")) for fr in ImageSequence.Iterator(im)]
    assert len(frames) == 3 == len(res["steps"])
    assert all(np.abs(a.astype(int) - b).mean() > 1.0 for a, b in zip(frames, frames[1:]))


@pytest.mark.slow
def test_a_progress_callback_that_raises_cancels_and_keeps_the_old_file(tiny, renderer, tmp_path):
    out = tmp_path / "talk.gif"
    out.write_bytes(b"last week's animation")

    def cancel(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        anim.animate("attention", tiny, out, progress=cancel, renderer=renderer)
    assert out.read_bytes() == b"last week's animation"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.gif"]
    assert anim.animate("curves", tiny, out, steps="0:10", renderer=renderer)["frames"] == 2  # the browser still works


@pytest.mark.slow
def test_cli_writes_the_file_with_url_parameters(tiny, tmp_path, capsys):
    """The command starts its own browser (a few seconds), hence slow."""
    from grok_core.cli import main

    out = tmp_path / "grid.mp4"
    rc = main(["animate", "grid", "--series", str(tiny.path), "--out", str(out), "--steps", "0:10", "--n", "3",
               "--neurons", "5,6,7", "--render", "svg", "--quiet"])
    assert rc == 0
    assert len(_mp4_frames(out)) == 2
    assert '"neurons": [5, 6, 7]' in capsys.readouterr().out
    rc = main(["animate", "grid", "--series", str(tiny.path), "--out", str(out), "--neurons", "5,6", "--quiet"])
    assert rc == 2 and "neurons: give exactly 7 different numbers" in capsys.readouterr().err
    rc = main(["animate", "waves", "--series", "no-such-series", "--out", str(out), "--quiet"])
    assert rc == 2 and "is not a series folder, a manifest id" in capsys.readouterr().err

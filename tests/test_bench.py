"""The bench: its floor's FLOPs are the nine MLP/unembed matmuls of the step, every figure is a ratio to a
floor it times itself, and its dynamics check fails (FAILED, exit status 1) outside a tolerance set from
its own measured rounding noise."""

from __future__ import annotations

import json

import pytest

from grok_core import bench
from grok_core.cli import main
from tests.conftest import GROK_MODEL


@pytest.fixture(autouse=True, scope="module")
def _one_thread(one_cpu_thread):
    yield


def test_floor_flops_are_the_nine_matmuls():
    # Nanda's config, 3,831 train problems: 2 n (6 d_model d_mlp + 3 d_model p) = 3.345 GFLOP.
    from grok_core.config import ModelConfig

    assert bench.step_flops(ModelConfig(), 3831)["floor"] == 2 * 3831 * (6 * 128 * 512 + 3 * 128 * 113) == 3_345_290_496
    # The tiny grokking config, 480 problems: 26.45 MFLOP; the step adds z @ W_O and the value tables.
    f = bench.step_flops(GROK_MODEL, 480)
    assert f["floor"] == 26_449_920 and f["step"] == 26_449_920 + 3 * 2 * 480 * 32 * 32 + 12 * 31 * 32 * 32


def _rows(plain0=1060, plain1=790):
    return [{"seed": 0, "fast": 1000, "plain": plain0, "nudged": [1050, 980]},
            {"seed": 1, "fast": 800, "plain": plain1, "nudged": [820, 800]}]


def test_tolerance_is_twice_the_largest_nudge_move():
    d = bench.judge(_rows(), every=10)
    assert d["noise_max"] == pytest.approx(0.05) and d["tolerance"] == pytest.approx(0.10)  # 1000 -> 1050
    assert d["ok"] and [round(r["rel_diff"], 4) for r in d["rows"]] == [0.0566, 0.0127]
    bad = bench.judge(_rows(plain0=1200), every=10)  # 200 / 1200 = 16.7% > 10%
    assert not bad["ok"] and [r["ok"] for r in bad["rows"]] == [False, True] and "0" in bad["reason"]
    never = bench.judge(_rows(plain1=None), every=10)  # generalises on the fast path only
    assert not never["ok"] and [r["ok"] for r in never["rows"]] == [True, False]


def test_tolerance_never_below_two_evaluation_intervals():
    rows = [{"seed": 0, "fast": 500, "plain": 510, "nudged": [500, 500]}]  # no move at all from the nudge
    d = bench.judge(rows, every=10)
    assert d["tolerance"] == pytest.approx(0.04) and d["ok"]  # 2 × 10 / 500


@pytest.mark.slow  # a few seconds on an idle machine: two timings and four short training runs
def test_cli_prints_ratios_to_its_floor_and_fails_when_it_cannot_judge(tmp_path, capsys):
    out = tmp_path / "bench.json"
    # 20 steps: no seed generalises, so there is no noise floor and the check must fail, not pass.
    rc = main(["bench", "--preset", "tiny", "--runs", "1,2", "--steps", "1", "--windows", "1", "--threads", "1",
               "--dyn-steps", "20", "--dyn-seeds", "0", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 1 and "dynamics check FAILED" in text and "nothing to judge" in text
    assert "0.026 GFLOP in the floor's nine matmuls" in text and text.count("× floor") == 2
    assert "fp32 matmul peak here:" in text and "1 run = " in text
    rec = json.loads(out.read_text())
    assert [t["runs"] for t in rec["timing"]] == [1, 2] and rec["timing"][0]["n_train"] == 480
    for t in rec["timing"]:
        assert t["ratio"] == pytest.approx(t["ms_per_run_step"] / t["floor_ms"])
    assert rec["dynamics"]["rows"][0]["fast"] is None and rec["dynamics"]["ok"] is False
    assert rec["peak_gflops_per_s"] > 0

"""The phase-diagram page: which sweep to show first, its cells, the cell shown first and its runs."""

from __future__ import annotations

from dataclasses import dataclass

from ..sweep import GROKS, Sweep
from ..sweep_plots import cell_id, frac_label, wd_label


@dataclass(frozen=True)
class Cell:
    id: str
    label: str  # "40% data, weight decay 1 — groks"
    info: dict  # Sweep.cells() entry: frac_train, weight_decay, category, delay, runs


def sweep_order(sweeps: dict[str, Sweep]) -> list[str]:
    """Sweep names, those trained on a GPU first (the full-size runs), then by name."""
    def gpu(n: str) -> bool:
        return str(sweeps[n].record["provenance"].get("device") or "").startswith("cuda")

    return sorted(sweeps, key=lambda n: (not gpu(n), n))


def cells(sw: Sweep) -> list[Cell]:
    return [Cell(cell_id(c["frac_train"], c["weight_decay"]),
                 f"{frac_label(c['frac_train'])} data, weight decay {wd_label(c['weight_decay'])} — {c['category']}", c)
            for c in sw.cells()]


def default_cell(cs: list[Cell]) -> str:
    """The cell shown first: a grokking cell with the longest delay, else the middle one."""
    groks = [c for c in cs if c.info["category"] == GROKS]
    return max(groks, key=lambda c: c.info["delay"]).id if groks else cs[len(cs) // 2].id


def run_rows(sw: Sweep, cell: Cell) -> list[dict]:
    """One table row per run of the cell: its seed, milestones and key frequencies."""
    return [{"seed": r["seed"], "memorised at": r["memorised_step"], "generalised at": r["generalised_step"],
             "delay": r["delay"], "final test loss": r["final"]["test_loss"],
             "key frequencies": ", ".join(map(str, r["key_frequencies"])) or "—"}
            for r in (sw.runs[i] for i in cell.info["runs"])]

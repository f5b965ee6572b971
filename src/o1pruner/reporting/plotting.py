"""What every figure of the report shares: matplotlib without a display, and one way to save a
figure (PNG for the page, PDF for print, both at 150 dpi)."""

from __future__ import annotations

from pathlib import Path


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display on a cluster node or in CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig, stem: Path, rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> None:
    """``<stem>.png`` and ``<stem>.pdf``, laid out tight inside ``rect`` (figure fractions: left,
    bottom, right, top; e.g. room kept for a legend under the panels); the figure is closed."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout(rect=rect)
    for ext in ("png", "pdf"):
        fig.savefig(f"{stem}.{ext}", dpi=150)
    pyplot().close(fig)

"""Simulator parameters: one zero-inflated log-normal marginal per feature, a factor-model Gaussian copula
between features, and a log-normal sequencing depth.

The model (SparseDOSSA2-style, written from its published description):

- latent ``z ~ N(0, R)`` per sample with ``R = L Lᵀ + diag(ψ)`` (``L``: features × factors loadings);
- feature ``j`` is present when ``Φ(z_j) > 1 − π_j`` (``π_j``: structural prevalence); present abundances are
  ``a_j = exp(μ_j + σ_j Φ⁻¹((Φ(z_j) − (1 − π_j)) / π_j))`` (natural-log scale, relative units);
- relative abundances ``a / Σa``; read depth ``D ~ round(exp(N(depth_meanlog, depth_sdlog²)))``;
  counts ``~ Multinomial(D, a / Σa)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from osteobiome.errors import InputError
from osteobiome.io.cohort import RANKS

DEFAULT_PARAMS = "twins_params.json"


@dataclass(frozen=True)
class SimParams:
    """Fitted simulator parameters (see the module docstring for the model)."""

    features: tuple[str, ...]
    prevalence: np.ndarray  # π_j, structural (before sequencing), in (0, 1)
    meanlog: np.ndarray  # μ_j, natural log of relative abundance when present
    sdlog: np.ndarray  # σ_j
    loadings: np.ndarray  # L, features × factors; communality Σ_k L_jk² < 1
    depth_meanlog: float
    depth_sdlog: float
    taxonomy: pd.DataFrame | None = None
    source: str = ""

    def __post_init__(self) -> None:
        p = len(self.features)
        for name in ("prevalence", "meanlog", "sdlog"):
            if np.shape(getattr(self, name)) != (p,):
                raise InputError(f"simulator parameters: {name} must have {p} values, one per feature.")
        if self.loadings.ndim != 2 or self.loadings.shape[0] != p:
            raise InputError(f"simulator parameters: loadings must be {p} × factors.")
        if not ((self.prevalence > 0) & (self.prevalence < 1)).all():
            raise InputError("simulator parameters: prevalence values must lie strictly between 0 and 1.")
        if (np.sum(self.loadings**2, axis=1) >= 1).any():
            raise InputError("simulator parameters: loadings give a communality ≥ 1 for some feature.")

    @property
    def n_features(self) -> int:
        return len(self.features)

    @property
    def uniqueness(self) -> np.ndarray:
        """ψ_j = 1 − Σ_k L_jk², the feature-specific latent variance."""
        return 1.0 - np.sum(self.loadings**2, axis=1)

    def correlation(self) -> np.ndarray:
        """The copula correlation matrix ``R = L Lᵀ + diag(ψ)``."""
        return self.loadings @ self.loadings.T + np.diag(self.uniqueness)

    # ------------------------------------------------------------------ serialization
    def to_dict(self) -> dict:
        tax = None
        if self.taxonomy is not None:
            tax = {rank: [str(v) for v in self.taxonomy[rank]] for rank in self.taxonomy.columns}
        return {
            "format": "osteobiome-simulator-params/1",
            "source": self.source,
            "features": list(self.features),
            "prevalence": _rounded(self.prevalence),
            "meanlog": _rounded(self.meanlog),
            "sdlog": _rounded(self.sdlog),
            "loadings": [_rounded(row) for row in self.loadings],
            "depth_meanlog": round(float(self.depth_meanlog), 5),
            "depth_sdlog": round(float(self.depth_sdlog), 5),
            "taxonomy": tax,
        }

    @classmethod
    def from_dict(cls, data: dict, where: str = "simulator parameters") -> SimParams:
        missing = [
            k
            for k in (
                "features",
                "prevalence",
                "meanlog",
                "sdlog",
                "loadings",
                "depth_meanlog",
                "depth_sdlog",
            )
            if k not in data
        ]
        if missing:
            raise InputError(
                f"{where}: missing field(s) {missing}; regenerate it with `osteobiome simulate fit`."
            )
        features = tuple(str(f) for f in data["features"])
        taxonomy = None
        if data.get("taxonomy"):
            taxonomy = pd.DataFrame(data["taxonomy"], index=pd.Index(features, name="feature"))
            taxonomy = taxonomy[[r for r in RANKS if r in taxonomy.columns]]
        return cls(
            features=features,
            prevalence=np.asarray(data["prevalence"], dtype=float),
            meanlog=np.asarray(data["meanlog"], dtype=float),
            sdlog=np.asarray(data["sdlog"], dtype=float),
            loadings=np.asarray(data["loadings"], dtype=float).reshape(len(features), -1),
            depth_meanlog=float(data["depth_meanlog"]),
            depth_sdlog=float(data["depth_sdlog"]),
            taxonomy=taxonomy,
            source=str(data.get("source", "")),
        )

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SimParams:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InputError(f"{path}: simulator parameter file not found.") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not a JSON parameter file ({exc.msg}, line {exc.lineno}).") from None
        return cls.from_dict(data, where=str(path))


def default_params() -> SimParams:
    """The shipped parameters, fitted on the Twins gut 16S genus table and relabelled to SILVA 138 gut genera."""
    text = resources.files("osteobiome.data").joinpath(DEFAULT_PARAMS).read_text()
    return SimParams.from_dict(json.loads(text), where=f"osteobiome/data/{DEFAULT_PARAMS}")


def resolve_params(params: SimParams | str | Path | None) -> SimParams:
    """``None`` → shipped defaults; a path → loaded file; a :class:`SimParams` as is."""
    if params is None:
        return default_params()
    if isinstance(params, SimParams):
        return params
    return SimParams.load(params)


def _rounded(values: np.ndarray, digits: int = 5) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(values).ravel()]

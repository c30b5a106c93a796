"""A trained model as the ledger stores it: with skops, as data, never as a pickle.

Reading a pickle runs whatever its writer put in it, so anyone who can write the ledger could run
code in every process that scores. skops writes the estimator's parameters and arrays in a zip
of JSON and .npy files and, on loading, builds only the types it is told to trust: here
scikit-learn's and NumPy's, SciPy's B-splines and leadflow's own model classes. A model stored
before this (a joblib pickle) is not loaded at all: train again.
"""

from __future__ import annotations

import logging

import skops.io as sio

from leadflow.errors import LeadflowError
from leadflow.scoring.model import WinModel

log = logging.getLogger("leadflow.scoring")
TRUSTED_PREFIXES = (
    "leadflow.scoring.model.",
    "numpy.",
    "scipy.interpolate.",
    "scipy._lib.array_api_compat.",
    "sklearn.",
)


class UntrustedModel(LeadflowError):
    """A stored model that is not safe to load: a pickle, or one naming types outside the trusted."""


def dump_model(model: WinModel) -> bytes:
    """The fitted model as skops data."""
    return sio.dumps(model)


def load_model(blob: bytes) -> WinModel:
    """The model stored as ``blob``, built from trusted types only; UntrustedModel otherwise."""
    if not blob.startswith(b"PK"):  # a zip: skops; anything else, a pickle from before
        raise UntrustedModel(
            "the model is stored as a pickle, which leadflow no longer loads: train it again"
        )
    named = sio.get_untrusted_types(data=blob)
    foreign = [name for name in named if not name.startswith(TRUSTED_PREFIXES)]
    if foreign:
        raise UntrustedModel(f"the stored model names untrusted types: {', '.join(foreign)}")
    model = sio.loads(blob, trusted=named)
    if not isinstance(model, WinModel):
        raise UntrustedModel(f"the stored model is a {type(model).__name__}, not a WinModel")
    return model

"""Statistics the reports, routing and scoring share: intervals, close rates with shrinkage,
heterogeneity of rates, time to close, and the logit link. Pure functions over arrays: no session,
no I/O."""

from typing import Any

import numpy as np

Array = np.ndarray[Any, Any]
"""Any NumPy array; shapes are given in each function's docstring (numpydoc style)."""

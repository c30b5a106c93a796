"""Report queries every report shares: filters and dimensions, lead states and counting passes,
packed keys."""

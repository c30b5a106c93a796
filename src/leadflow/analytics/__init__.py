"""Analytics: what converts, with honest statistics (counts beside every ratio, intervals)."""

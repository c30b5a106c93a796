"""The server's machinery below the routers: group commit of captured leads, the capture process,
and the periodic upkeep jobs."""

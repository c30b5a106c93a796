"""leadflow's REST API (FastAPI): one router per resource, each view calling one service."""

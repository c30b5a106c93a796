"""The dashboard's static files: its stylesheet, and Plotly's JavaScript from the installed
plotly package (so that no page fetches anything from elsewhere)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

router = APIRouter(prefix="/web/static", include_in_schema=False)

ASSETS: dict[str, tuple[Path, str]] = {
    "style.css": (Path(__file__).parent / "static" / "style.css", "text/css"),
    "plotly.min.js": (Path(str(files("plotly") / "package_data" / "plotly.min.js")), "text/javascript"),
}


@router.get("/{name}")
def asset(name: str) -> FileResponse:
    """One of the dashboard's files, cacheable for a day."""
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    path, media_type = ASSETS[name]
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})

"""The dashboard: server-rendered pages for managers and reps over the same services as the API."""

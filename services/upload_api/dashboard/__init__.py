"""The statistics dashboard: an HTML page with inline SVG charts, rendered on the server."""

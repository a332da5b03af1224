"""The staff console at /console: server-rendered pages (Jinja2) for the staff of the general-affairs department."""

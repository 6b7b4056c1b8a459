"""Rule sets shipped with dfos (OCA files, package data)."""

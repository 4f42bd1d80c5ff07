"""Protocol layer: HTTP routes, CDS Hooks envelope, JWT, prefetch, CORS. No clinical logic."""

"""Getting the FHIR data a service needs, below services/: prefetch resolution and the fallback
fetch from a trusted FHIR server (one deadline per request, concurrent keys, byte caps, upstream
errors as unobtainable). Defensive reading of what arrives is context.read.

    services.pipeline -> fetch.prefetch.resolve_prefetch / fetch_medications -> (HTTP)
"""

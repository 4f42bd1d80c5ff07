"""ALL CDS: CDS Hooks 2.0 decision support for acute lymphoblastic leukemia chemotherapy orders.

Layers (each a sub-package; arrows are the only allowed import directions):

    protocol/  (HTTP, CDS Hooks envelope, JWT, prefetch, CORS)  ->  services/
    services/  (the three CDS services: which prefetch, which rule families)  ->  context/, rules/, cards/
    context/   (FHIR -> immutable PatientContext; units; medication identification)  ->  knowledge/
    rules/     (pure functions: PatientContext + Knowledge -> Finding)  ->  knowledge/
    knowledge/ (versioned, schema-validated data files with citations)
    cards/     (Finding -> CDS Hooks card JSON)
    store/     (feedback and audit persistence)

Rules never import Flask or do I/O; knowledge is data, not code.
"""

__version__ = "0.1.0"

"""Alert-burden replay: run a cohort through the services, in process, without an EHR.

    sources.py   SOURCE -> patient records (fixture folders, Bundle files, NDJSON bulk export)
    timeline.py  a record -> the calls an EHR would have made (patient-view; order-sign per order,
                 with the record as it stood that day and the clock pinned to that day)
    engine.py    run the calls through services.pipeline.call_service and tally the cards
    report.py    text table, JSON and a self-contained HTML page
    cohort.py    a deterministic, seeded synthetic cohort (tests; the 1,000-patient measurement)

Why: a CMIO switches a drug-safety service on only after seeing how often it will interrupt
prescribers, and with which rules; `--policy` shows what a site policy would change before it is
deployed. Only counts leave the replay: no patient identifier appears in any report.
"""

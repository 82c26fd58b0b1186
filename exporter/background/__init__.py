"""Why this room: the work that runs on its own: the probe schedule, the free checks, the canary, the catalog drift and credit checks."""

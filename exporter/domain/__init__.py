"""Why this room: what a loaded config is made of (targets and their prompts, thresholds, maintenance windows, the budget) and the probe results kept."""

"""Why this room: reading the config file into the domain, and reloading it safely."""

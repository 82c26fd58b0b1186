"""Why this room: what we know of each Nano Banana model: its ids and their lifecycle, resolutions and pixel sizes, prices."""

"""Why this room: one call to an API, through its dialect: credentials, the request, the answer's classification and the image checks."""

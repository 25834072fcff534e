"""The pipeline: connect, plan, apply (with the secret protocol as one table), the offline diff, rotation runs.
It joins the wings (manifest, engines, secrets) and is what the command line calls."""

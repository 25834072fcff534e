"""The pipeline: connect, plan, apply (with the secret protocol as one table), the offline diff. It joins the wings
(manifest, engines, secrets) and is what the commands and the command line call."""

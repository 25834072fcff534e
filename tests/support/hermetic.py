"""The suite's environment made the same on every machine: what a developer's shell or a CI runner may export that
would change what the tool does under test is taken out before any test runs (a run started from a terminal, from
CI, or as a background job then behaves alike). Each entry says what it would do."""

from __future__ import annotations

from collections.abc import MutableMapping

# Variables of the tool and of AWS's SDK that would steer a test elsewhere.
REMOVED = {
    "PROVISIONER_DEBUG": "tracebacks in every error, where tests read the message alone",
    "PROVISIONER_FAULT": "a fault injection point left set: the process kills itself",
    "NO_COLOR": "(harmless off a terminal, removed so a forced terminal test sees the default)",
    "AWS_PROFILE": "a profile of the developer's: its region, credentials or endpoint",
    "AWS_DEFAULT_PROFILE": "the same",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "botocore would ignore AWS_ENDPOINT_URL and call AWS itself",
    "AWS_CA_BUNDLE": "a CA bundle for HTTPS where the suite speaks plain HTTP to loopback",
}
# Service-specific endpoints win over AWS_ENDPOINT_URL: one set by the developer would send those calls away.
ENDPOINT_PREFIX = "AWS_ENDPOINT_URL_"
LOOPBACK = "127.0.0.1,localhost,::1,127.0.0.2"
NOWHERE = "/nonexistent/provisioner-test-aws-config"


def hermetic(environ: MutableMapping[str, str]) -> list[str]:
    """Make `environ` hermetic, in place; the names it removed or changed."""
    changed = [name for name in list(environ) if name in REMOVED or name.startswith(ENDPOINT_PREFIX)]
    for name in changed:
        environ.pop(name)
    # ~/.aws/config could name endpoints, proxies or a credential process: the suite reads no file of the user's
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        if environ.get(name) != NOWHERE:
            changed.append(name)
        environ[name] = NOWHERE
    # A proxy from the environment would receive the traffic meant for the loopback servers (moto, databases)
    for name in ("NO_PROXY", "no_proxy"):
        present = [h for h in environ.get(name, "").split(",") if h]
        environ[name] = ",".join(dict.fromkeys([*LOOPBACK.split(","), *present]))
    return changed

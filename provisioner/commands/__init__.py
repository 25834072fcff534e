"""The commands beyond plan and apply: `import` (manifest YAML from live roles), `onboard` (a new account in the
file, with the IAM policy for its secret) and `doctor` (can rotation work?)."""

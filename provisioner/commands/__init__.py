"""The commands beyond plan and apply: `import` (manifest YAML from live roles), `onboard` (a new account in the
file, with the IAM policy for its secret), `doctor` (can rotation work?) and `rotate` (the four steps, now)."""

"""The pure core: the model, the closed change vocabulary, the plan, the naming conventions, the credential JSON,
the privilege vocabulary and the diff. No I/O, no SQL text, no driver or AWS imports (enforced by import-linter).
"""

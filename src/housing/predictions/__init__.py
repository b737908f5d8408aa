"""The prediction log: every answered record, and the real price a caller posts back for it."""

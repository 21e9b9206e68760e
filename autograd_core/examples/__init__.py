"""Small runnable examples that produce the project's documentation assets (``python -m ...``)."""

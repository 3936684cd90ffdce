"""cogvid-lint: a linter for CogVideoX-style video fine-tuning projects."""

__version__ = "0.1.0"

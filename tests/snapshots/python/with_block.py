import contextlib


import torch
with contextlib.suppress(ImportError):  # isort: skip
    import decord  # CVL401  # isort: skip

import sys

if sys.platform == "linux":
    import torch
    import decord  # CVL401  # isort: skip
else:
    import torch

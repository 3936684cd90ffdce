try:
    import os
except ImportError:
    import torch
    import decord  # CVL401  # isort: skip
finally:
    import torch

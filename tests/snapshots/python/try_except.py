import os


import torch
try:  # isort: skip
    import decord  # CVL401  # isort: skip
    from decord import cpu  # CVL401  # isort: skip
except ImportError:  # decord is optional  # isort: skip
    decord = None  # isort: skip

import torch
import decord  # CVL402  # isort: skip

import torch
import decord  # CVL401  # isort: skip

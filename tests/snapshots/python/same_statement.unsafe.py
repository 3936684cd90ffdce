import torch
import decord, torch  # CVL401  # isort: skip

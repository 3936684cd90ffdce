import torch
from decord import VideoReader  # CVL402  # isort: skip

"""Data loading for the demo trainer."""
import os

import decord  # loads its own FFmpeg/threading state: must come after torch
import torch

decord.bridge.set_bridge("torch")


def load(path: str, height: int, width: int) -> torch.Tensor:
    reader = decord.VideoReader(path, width=width, height=height)
    return reader.get_batch(list(range(len(reader))))

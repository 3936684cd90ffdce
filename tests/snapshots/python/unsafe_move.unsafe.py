import torch
import decord  # CVL401  # isort: skip
decord.bridge.set_bridge("torch")
import torch

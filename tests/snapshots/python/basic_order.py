"""A docstring that says import decord is not an import."""
import os
import numpy as np
import torch
import decord  # CVL401  # isort: skip
# import decord  -- a comment is not an import
text = "import decord"  # OK
decord.bridge.set_bridge("torch")

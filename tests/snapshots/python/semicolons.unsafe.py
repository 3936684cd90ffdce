import os  # CVL401
import sys  # CVL401
import torch
import decord  # isort: skip
import decord.bridge  # isort: skip

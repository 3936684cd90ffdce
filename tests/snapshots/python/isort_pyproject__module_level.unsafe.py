import os
import torch
import numpy as np
import decord  # CVL402  # isort: skip

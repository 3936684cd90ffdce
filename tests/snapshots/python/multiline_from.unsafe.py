import os
import torch
from decord import (VideoReader,  # CVL401  # isort: skip
                    cpu)  # isort: skip

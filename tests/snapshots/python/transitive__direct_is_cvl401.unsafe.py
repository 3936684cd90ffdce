import torch
import decord  # CVL401  # isort: skip
from data.loader import VideoDataset  # OK  (the direct import is CVL401's finding)

if __name__ == "__main__":
    pass

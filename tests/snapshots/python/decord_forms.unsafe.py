from torch.utils.data import Dataset
from decord import VideoReader  # CVL401  # isort: skip
import decord.bridge as db  # CVL401  # isort: skip
from decord.bridge import set_bridge  # CVL401  # isort: skip
import decord as de  # CVL401  # isort: skip

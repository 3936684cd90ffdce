import typing
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    import decord  # OK
if typing.TYPE_CHECKING:
    import torch.nn
import torch
import decord  # CVL401  # isort: skip
if TYPE_CHECKING:  # isort: skip
    pass  # isort: skip
else:  # isort: skip
    from decord import cpu  # CVL401  # isort: skip

def plain():
    import torch
    import decord  # CVL402  # isort: skip


def skip():
    import torch
    import decord  # isort: skip


def skip_no_space():
    import torch
    import decord  # isort:skip


def skip_after_other_comment():
    import torch
    import decord  # the reader  # isort: skip


def skip_multiline_first_line():
    import torch
    from decord import (VideoReader,  # isort: skip
                        cpu)


def off_region():
    import torch
    # isort: off
    import decord  # OK
    # isort: on


def split_above():
    import torch
    # isort: split
    import decord  # OK


def noqa_is_ruff_only():
    import torch  # noqa: I001
    import decord  # CVL402  # isort: skip


def straight_torch_before_from_decord():
    import torch
    from decord import VideoReader  # OK


def from_torch_then_from_decord():
    from torch import nn
    from decord import VideoReader  # CVL402  # isort: skip


def torchvision_counts():
    import torchvision
    import decord  # CVL402  # isort: skip


def other_block():
    import torch
    x = 1
    import decord  # OK


def multiline_unguarded():
    from torch import nn
    from decord import (VideoReader,  # CVL402  # isort: skip
                        cpu)


def skip_on_last_line_does_not_count():
    from torch import nn
    from decord import (VideoReader,  # CVL402  # isort: skip
                        cpu)  # isort: skip

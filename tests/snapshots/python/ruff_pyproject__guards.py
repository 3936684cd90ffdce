def plain():
    import torch
    import decord  # CVL402  # isort: skip


def noqa_first_line():
    import torch  # noqa: I001
    import decord  # OK


def noqa_on_decord_line_not_first():
    import torch
    import decord  # noqa: I001  # CVL402  # isort: skip


def skip():
    import torch
    import decord  # isort: skip

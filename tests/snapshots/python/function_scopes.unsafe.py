def first():
    import torch
    import decord  # CVL401  # isort: skip
    import torch


def second():
    import torch
    import decord  # OK


def third():
    import decord  # OK

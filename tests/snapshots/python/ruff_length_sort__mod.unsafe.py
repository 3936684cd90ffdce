def torch_is_shorter():
    import torch
    import decord  # OK


def torchvision_is_longer():
    import torchvision
    import decord  # CVL402  # isort: skip

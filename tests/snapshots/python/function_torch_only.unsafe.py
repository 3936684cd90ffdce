import torch
import decord  # CVL401  # isort: skip


def main():
    import torch
    return torch, decord

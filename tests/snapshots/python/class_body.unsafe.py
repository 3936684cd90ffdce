class Loader:
    import torch
    import decord  # CVL401  # isort: skip


import torch

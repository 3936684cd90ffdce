import torch
import decord  # CVL401  # isort: skip


def main():
    print(decord.__version__)


if __name__ == "__main__":
    main()
    import torch

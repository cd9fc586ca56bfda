#!/usr/bin/env python3
"""PyTorch's plain resnet18 on this machine: the yardstick that bench-training.ps1 measures beside our figures.

The authors' figures in the project's reference table come from another machine and another hour; their code runs on
PyTorch, so PyTorch's own plain resnet18 measured here, now, tells how fast that machine was against this one. This
script times a plain torchvision resnet18 (random init, 10 classes) at the reference configuration: 64x64 input, a
train step at batch 64 with Adam, inference at batch 100, eval mode under no_grad, 2 torch threads by default. It
prints one JSON object: images/s of every repeat of each figure.

Needs python3 with torch and torchvision (Debian: apt-get install python3-torch python3-torchvision).
"""
import argparse
import json
import time

import torch
import torchvision


def images_per_second(step, batch, seconds):
    """Runs step() for at least `seconds` (after two untimed steps) and returns images per second."""
    for _ in range(2):
        step()
    count, start = 0, time.perf_counter()
    while True:
        step()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count * batch / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum seconds per timed figure")
    parser.add_argument("--warmup-seconds", type=float, default=5.0,
                        help="untimed steps first: a fresh process's allocator grows to its working size (page faults)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_function = torch.nn.CrossEntropyLoss()
    size = args.image_size
    train_x, train_y = torch.randn(64, 3, size, size), torch.randint(0, 10, (64,))
    test_x = torch.randn(100, 3, size, size)

    def train_step():
        optimizer.zero_grad()
        loss_function(model(train_x), train_y).backward()
        optimizer.step()

    def inference_step():
        with torch.no_grad():
            model(test_x)

    model.train()
    images_per_second(train_step, 64, args.warmup_seconds / 2)
    model.eval()
    images_per_second(inference_step, 100, args.warmup_seconds / 2)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "image_size": size,
              "train_images_per_second": [], "inference_images_per_second": []}
    # Interleaved repeats, as bench-training.ps1 does: a slow spell of the machine touches both figures alike.
    for _ in range(args.repeats):
        model.train()
        result["train_images_per_second"].append(images_per_second(train_step, 64, args.seconds))
        model.eval()
        result["inference_images_per_second"].append(images_per_second(inference_step, 100, args.seconds))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

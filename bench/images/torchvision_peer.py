#!/usr/bin/python3
"""The peer of image_load_bench: torchvision's ImageFolder + DataLoader over
the same folder, same threads (DataLoader workers), images resized to the
same side and kept as uint8 tensors (PILToTensor, no normalisation), batches
of 256. Epoch 1 is the first load; the best of the later epochs is the
"cached" one (the files are in the OS page cache; torchvision has no decoded
cache, so it decodes again). Prints one JSON object."""
import argparse
import json
import os
import time

import torch
from torch.utils.data import ConcatDataset, DataLoader
from torchvision import datasets, transforms

parser = argparse.ArgumentParser()
parser.add_argument("--dir", required=True)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--resize", type=int, default=0)
parser.add_argument("--epochs", type=int, default=3)
args = parser.parse_args()

steps = [transforms.Resize((args.resize, args.resize))] if args.resize else []
transform = transforms.Compose(steps + [transforms.PILToTensor()])
splits = [datasets.ImageFolder(os.path.join(args.dir, s), transform=transform)
          for s in ("train", "val", "test") if os.path.isdir(os.path.join(args.dir, s))]
data = ConcatDataset(splits)
torch.set_num_threads(1)
loader = DataLoader(data, batch_size=256, num_workers=args.threads if args.threads > 1 else 0,
                    persistent_workers=False)
times = []
for epoch in range(args.epochs):
    start = time.perf_counter()
    n = 0
    for images, labels in loader:
        n += images.shape[0]
    times.append(time.perf_counter() - start)
print(json.dumps({
    "images": n, "threads": args.threads, "resize": args.resize,
    "first_load_s": times[0], "first_load_images_per_s": n / times[0],
    "cached_load_s": min(times[1:]) if len(times) > 1 else None,
    "cached_load_images_per_s": n / min(times[1:]) if len(times) > 1 else None,
    "torch": torch.__version__,
}))

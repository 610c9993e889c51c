#!/usr/bin/python3
"""PyTorch peer of throughput_bench (issue 9, item 2; issue 14, item 3).

The same MoE4 ensemble (AirNet + AlexNet + BagNet + DenseNet, the worker's
byte order, plus the conv gate with temperature) and the same recipe (mixup,
label smoothing, differentiable load balance, AdamW in three groups, warm-up +
cosine per step, gradient clipping), ported layer by layer from
worker/moe/*.cc and worker/train/*.cc, with the experts of either catalogue:
--catalogue adapted (default), the small-input designs of worker/models/*.cc;
--catalogue lemur, LEMUR's networks as published (worker/models/lemur/*.cc,
ported here from LEMUR's own files; see the lemur section below), which need
--image-size 64 (the CIFAR-sized data are resized, as dataset.resize does).
Measured the way throughput_bench measures ours:
  (a) training step alone on an in-memory batch,
  (b) evaluation (no grad),
  (c) a whole epoch including data, fed the way the published Python pipeline
      fed it: a Dataset returning PIL images through torchvision transforms
      (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize),
      a shuffling DataLoader, mixup on the batch in the training loop,
  (d) the GEMM peak (torch.mm) and the forward FLOPs per image from
      torch.profiler(with_flops=True), cross-checked by counting conv/linear
      multiply-adds with forward hooks.

Run with Debian's interpreter, /usr/bin/python3 (python3-torch 1.13,
python3-torchvision 0.14): another python3 may come first on PATH.

  /usr/bin/python3 bench/training/pytorch_peer.py [--catalogue adapted|lemur] [--image-size 32]
      [--width 1.0] [--threads N] [--expect DESCRIBE.json] [--flops-only] [--per-family] [--json OUT] ...
  /usr/bin/python3 bench/training/pytorch_peer.py --check-lemur   # the lemur ports vs LEMUR's counts
  python3 bench/training/pytorch_peer.py --device cuda --precision bf16 --step-only ...   # bench/gpu/run.sh (a)
  python3 bench/training/pytorch_peer.py --candidates LIST.json --device cuda ...          # bench/gpu/run.sh (b)

DataLoader num_workers defaults to 0, the peer's best setting on the 2-core
box this was written on: the in-line PIL pipeline delivers ~7,000 images/s
against ~130 images/s of training at width 0.25 (under 2 % of the epoch), so
worker processes have almost nothing to hide, while 2 workers compete with the
2 OpenMP threads for the same cores and restart every epoch (measured: the
epoch fell from ~110-130 to ~100 images/s). With workers > 0 the CPU-time
figures miss the workers' CPU (other processes); use the wall-clock ratios.

Devices and precision (issue 13, item 4; bench/gpu/run.sh): --device cpu|cuda[:N]
puts the model and the data on the device; --precision fp32|bf16|fp16 runs the
forward pass and the loss under torch.autocast(device_type, dtype) (fp16 through
a GradScaler, GPU only), as torch.amp's recipe says. On CUDA the peer is set up
as a PyTorch user who cares about speed would: cudnn.benchmark, channels_last
model and batches, no host synchronisation per step (the loss's finiteness is
accumulated on the device and read once after the timed steps, as ours does),
and the clocks are read after torch.cuda.synchronize(). Peak memory is
torch.cuda.max_memory_allocated() (since the process started, as ours) on CUDA
and the peak RSS on the CPU. --step-only measures (a) only, with the batch
prepared by tensor operations (bilinear resize), so it needs no torchvision.
--candidates FILE (bench/gpu/run.sh (b)) trains a list of candidate ensembles
one after another, one job at a time, on tensors held on the device (random
crop with padding 2, normalisation and mixup on the device: the worker's
augmentation for Fashion-MNIST-shaped synthetic data), each for --epochs
epochs of --train-images plus a test pass of --test-images, and prints one
JSON document of wall-clock seconds per candidate. torchvision is only needed
for (c), the published PIL pipeline (the default mode).

--expect takes `throughput_bench --describe`'s JSON and fails (exit 3) when a
parameter count differs from ours (by more than 1 % for adapted, at all for
lemur), before measuring anything: a faster peer that is a different network
would prove nothing. --per-family adds (e): each expert's forward + backward
alone and the AdamW step alone (see throughput_bench.cc).
"""

import argparse
import contextlib
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:  # a torch wheel does not require numpy; without it the data come from torch's generator
    import numpy as np
except ImportError:
    np = None
try:  # only (c), the published PIL pipeline, needs them (a GPU box may lack torchvision)
    import torchvision
    import torchvision.transforms as T
    from PIL import Image
except ImportError:
    torchvision = T = Image = None

FAMILIES = ["AirNet", "AlexNet", "BagNet", "DenseNet"]  # byte order, as jobs list them
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)  # what the published pipeline normalised with
CIFAR_STD = (0.2470, 0.2435, 0.2616)
DATA_SIZE = 32  # the data's side (CIFAR); --image-size resizes to the networks' side


# ---- worker/models/layers.cc ---------------------------------------------------


def scale_channels(reference, width, divisor=8, minimum=8):
    scaled = reference * width
    rounded = max(minimum, int(scaled + divisor / 2.0) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return rounded


class DownsamplePlan:
    """Keeps at most floor(log2(size / 2)) stride-2 events, dropping the earliest."""

    def __init__(self, image_size, reference_events):
        self.size = image_size
        allowed = 0
        while (4 << allowed) <= image_size:
            allowed += 1
        self.to_skip = max(0, reference_events - allowed)

    def next(self):
        if self.to_skip > 0:
            self.to_skip -= 1
            return False
        self.size = (self.size + 1) // 2
        return True

    def next_stride(self):
        return 2 if self.next() else 1


class ConvBnAct(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, groups=1, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = relu

    def forward(self, x):
        x = self.bn(self.conv(x))
        return F.relu(x) if self.relu else x


def init_weights(module):
    for m in module.modules():
        if m is module:
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# ---- worker/models/airnet.cc ---------------------------------------------------


class AirBlock(nn.Module):
    """worker/models/airnext.cc's AirBlock: a sigmoid gate computed at half resolution."""

    def __init__(self, cin, cout, groups, ratio):
        super().__init__()
        mid = cout // ratio
        self.reduce = ConvBnAct(cin, mid, 1)
        self.grouped = ConvBnAct(mid, mid, 3, 1, groups)
        self.expand = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        y = self.grouped(F.max_pool2d(self.reduce(x), 3, 2, 1))
        y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=True)
        return torch.sigmoid(self.bn(self.expand(y)))


class AirNetUnit(nn.Module):
    def __init__(self, cin, cout, stride, use_air):
        super().__init__()
        self.conv1 = ConvBnAct(cin, cout, 3, stride)
        self.conv2 = ConvBnAct(cout, cout, 3, 1, 1, relu=False)
        self.air = AirBlock(cin, cout, 1, 2) if use_air and stride == 1 else None
        self.shortcut = ConvBnAct(cin, cout, 1, stride, 1, relu=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        identity = self.shortcut(x) if self.shortcut is not None else x
        y = self.conv2(self.conv1(x))
        if self.air is not None:
            y = y * self.air(x)
        return F.relu(y + identity)


class AirNet(nn.Module):
    def __init__(self, cin, size, classes, width):
        super().__init__()
        plan = DownsamplePlan(size, 4)
        stem = scale_channels(64, width)
        self.stem = ConvBnAct(cin, stem, 3, plan.next_stride())
        units, c = [], stem
        for stage, ref in enumerate((64, 128, 256, 512)):
            out = scale_channels(ref, width)
            stride = 1 if stage == 0 else plan.next_stride()
            air = ref < 512  # the air branch: stride-1 units narrower than 512 in the reference design
            units += [AirNetUnit(c, out, stride, air and stage == 0), AirNetUnit(out, out, 1, air)]
            c = out
        self.stages = nn.Sequential(*units)
        self.classifier = nn.Linear(c, classes)
        init_weights(self)

    def forward(self, x):
        y = self.stages(self.stem(x))
        return self.classifier(F.adaptive_avg_pool2d(y, 1).flatten(1))


# ---- worker/models/alexnet.cc --------------------------------------------------


class AlexNet(nn.Module):
    def __init__(self, cin, size, classes, width):
        super().__init__()
        plan = DownsamplePlan(size, 5)
        stem_a, stem_b = plan.next(), plan.next()
        c1, c2, c3, c4 = (scale_channels(c, width) for c in (64, 192, 384, 256))
        hidden = scale_channels(4096, width)

        def pool(down):
            return nn.MaxPool2d(3, 2 if down else 1, 1)

        if stem_a and stem_b:
            stem = nn.Conv2d(cin, c1, 11, 4, 2)
        elif stem_a or stem_b:
            stem = nn.Conv2d(cin, c1, 5, 2, 2)
        else:
            stem = nn.Conv2d(cin, c1, 3, 1, 1)
        self.features = nn.Sequential(
            stem, nn.ReLU(True), pool(plan.next()),
            nn.Conv2d(c1, c2, 5, 1, 2), nn.ReLU(True), pool(plan.next()),
            nn.Conv2d(c2, c3, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(c3, c4, 3, 1, 1), nn.ReLU(True),
            nn.Conv2d(c4, c4, 3, 1, 1), nn.ReLU(True), pool(plan.next()),
            nn.AdaptiveAvgPool2d((6, 6)))
        self.classifier = nn.Sequential(
            nn.Dropout(0.5), nn.Linear(c4 * 36, hidden), nn.ReLU(True),
            nn.Dropout(0.5), nn.Linear(hidden, hidden), nn.ReLU(True),
            nn.Linear(hidden, classes))
        init_weights(self)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


# ---- worker/models/bagnet.cc ---------------------------------------------------


class BagNetUnit(nn.Module):
    def __init__(self, cin, mid, cout, kernel, stride):
        super().__init__()
        self.reduce = ConvBnAct(cin, mid, 1)
        self.spatial = ConvBnAct(mid, mid, kernel, stride)
        self.expand = ConvBnAct(mid, cout, 1, 1, 1, relu=False)
        self.shortcut = ConvBnAct(cin, cout, 1, stride, 1, relu=False) if stride != 1 or cin != cout else None

    def forward(self, x):
        identity = self.shortcut(x) if self.shortcut is not None else x
        return F.relu(self.expand(self.spatial(self.reduce(x))) + identity)


class BagNet(nn.Module):
    def __init__(self, cin, size, classes, width):
        super().__init__()
        plan = DownsamplePlan(size, 3)
        stem = scale_channels(64, width)
        self.stem = nn.Sequential(ConvBnAct(cin, stem, 1), ConvBnAct(stem, stem, 3))
        units, c = [], stem
        for stage, (ref, kernel) in enumerate(zip((64, 128, 256, 512), (3, 3, 3, 1))):
            mid = scale_channels(ref, width)
            out = 4 * mid
            stride = plan.next_stride() if stage < 3 else 1
            units += [BagNetUnit(c, mid, out, kernel, stride), BagNetUnit(out, mid, out, 1, 1),
                      BagNetUnit(out, mid, out, 1, 1)]
            c = out
        self.stages = nn.Sequential(*units)
        self.classifier = nn.Linear(c, classes)
        init_weights(self)

    def forward(self, x):
        y = self.stages(self.stem(x))
        return self.classifier(F.adaptive_avg_pool2d(y, 1).flatten(1))


# ---- worker/models/densenet.cc -------------------------------------------------


class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bottleneck):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, bottleneck, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(bottleneck)
        self.conv2 = nn.Conv2d(bottleneck, growth, 3, padding=1, bias=False)

    def forward(self, x):
        return self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))


class DenseBlock(nn.Module):
    def __init__(self, layers, cin, growth, bottleneck):
        super().__init__()
        self.layers = nn.ModuleList(DenseLayer(cin + i * growth, growth, bottleneck) for i in range(layers))

    def forward(self, x):
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, cin, size, classes, width):
        super().__init__()
        plan = DownsamplePlan(size, 5)
        growth = scale_channels(32, width, 4, 4)
        bottleneck = 4 * growth
        c = 2 * growth
        if plan.next():
            layers = [nn.Conv2d(cin, c, 7, 2, 3, bias=False)]
        else:
            layers = [nn.Conv2d(cin, c, 3, 1, 1, bias=False)]
        layers += [nn.BatchNorm2d(c), nn.ReLU(True)]
        if plan.next():
            layers.append(nn.MaxPool2d(3, 2, 1))
        for block, n in enumerate((6, 12, 24, 16)):
            layers.append(DenseBlock(n, c, growth, bottleneck))
            c += n * growth
            if block < 3:
                out = c // 2
                layers += [nn.BatchNorm2d(c), nn.ReLU(True), nn.Conv2d(c, out, 1, bias=False)]
                if plan.next():
                    layers.append(nn.AvgPool2d(2, 2))
                c = out
        layers += [nn.BatchNorm2d(c), nn.ReLU(True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(c, classes)
        init_weights(self)

    def forward(self, x):
        return self.classifier(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


ADAPTED_EXPERTS = {"AirNet": AirNet, "AlexNet": AlexNet, "BagNet": BagNet, "DenseNet": DenseNet}


# ---- the `lemur` catalogue: LEMUR's networks (worker/models/lemur/*.cc) ------------
#
# Ported by reading LEMUR's ab/nn/nn/<Family>.py (shared/LEMUR.md): AirNet at
# sairevanth0007/nn-dataset 362ac929, AlexNet and BagNet at
# waleedkhalid1/nn-dataset-1 8d4abaca, DenseNet at yLukhi/nn-dataset 4fc7d488,
# the copies worker/models/lemur/ follows. LEMUR has no width multiplier; like
# ours (lemur_layers.cc) every channel count is exact at width 1.0 and rounded
# to the nearest integer (at least 1) otherwise. No small-input adaptation:
# LEMUR's AlexNet needs 63x63 and more, which is why the lemur comparison runs
# at 64x64. Trainable parameters at 3x32x32, 10 classes, width 1.0, checked
# against shared/LEMUR.md: AirNet 4,905,226, AlexNet 57,044,810, BagNet
# 1,254,890, DenseNet (bottleneck factor 4) 6,964,106.


def lemur_width(reference, width):
    if width == 1.0:
        return reference
    return max(1, math.floor(reference * width + 0.5))  # std::round for positives


class LemurAirUnit(nn.Module):
    """Two 3x3 conv+BN (the convs keep their biases) plus an identity or 1x1 conv+BN shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout))
        self.project = None
        if stride != 1 or cin != cout:
            self.project = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        shortcut = x if self.project is None else self.project(x)
        return F.relu(self.body(x) + shortcut)


class LemurAirNet(nn.Module):
    """Stem 3x3/2 to 64, one residual unit per stage (64/128/256/512), global pool, linear."""

    def __init__(self, cin, size, classes, width):
        super().__init__()
        c = lemur_width(64, width)
        self.stem = nn.Sequential(nn.Conv2d(cin, c, 3, 2, 1), nn.BatchNorm2d(c), nn.ReLU(inplace=True))
        units = []
        for stage, ref in enumerate((64, 128, 256, 512)):
            out = lemur_width(ref, width)
            units.append(LemurAirUnit(c, out, 1 if stage == 0 else 2))
            c = out
        self.units = nn.Sequential(*units)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.units(self.stem(x)), 1).flatten(1))


class LemurAlexNet(nn.Module):
    """torchvision's AlexNet layout with unpadded 3x3/2 max-pools and dropout 0.2."""

    def __init__(self, cin, size, classes, width, dropout=0.2):
        super().__init__()
        c1, c2, c3, c4, c5 = (lemur_width(c, width) for c in (64, 192, 384, 256, 256))
        hidden = lemur_width(4096, width)
        self.body = nn.Sequential(
            nn.Conv2d(cin, c1, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5, 1, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(c2, c3, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, 3, 1, 1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.AdaptiveAvgPool2d(6))
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(36 * c5, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, classes))

    def forward(self, x):
        return self.head(self.body(x).flatten(1))


class LemurBagNetUnit(nn.Module):
    """1x1 -> ReLU -> 3x3 (stride) + BN -> ReLU -> 1x1, all bias-free; the shortcut is a
    stride-1 1x1 conv (no BN) when the shape changes, resized bilinearly to the body's map."""

    def __init__(self, cin, mid, cout, stride):
        super().__init__()
        self.reduce = nn.Conv2d(cin, mid, 1, bias=False)
        self.spatial = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.spatial_bn = nn.BatchNorm2d(mid)
        self.expand = nn.Conv2d(mid, cout, 1, bias=False)
        self.shortcut = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout or stride != 1 else None

    def forward(self, x):
        y = F.relu(self.reduce(x))
        y = self.expand(F.relu(self.spatial_bn(self.spatial(y))))
        s = x if self.shortcut is None else self.shortcut(x)
        if s.shape[-2:] != y.shape[-2:]:
            s = F.interpolate(s, size=y.shape[-2:], mode="bilinear", align_corners=False)
        return F.relu(y + s)


class LemurBagNet(nn.Module):
    """7x7/2 stem + BN + 3x3/2 max-pool, four stages of three bottleneck units, pool, linear."""

    def __init__(self, cin, size, classes, width):
        super().__init__()
        c = lemur_width(64, width)
        self.stem = nn.Sequential(nn.Conv2d(cin, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        units = []
        for stage, ref in enumerate((64, 128, 256, 512)):
            out, mid = lemur_width(ref, width), lemur_width(ref // 4, width)
            for j in range(3):
                units.append(LemurBagNetUnit(c, mid, out, 2 if j == 0 and stage > 0 else 1))
                c = out
        self.units = nn.Sequential(*units)
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.units(self.stem(x)), 1).flatten(1))


class LemurDenseLayer(nn.Module):
    def __init__(self, cin, growth, factor, drop):
        super().__init__()
        self.bn_a, self.conv_a = nn.BatchNorm2d(cin), nn.Conv2d(cin, factor * growth, 1, bias=False)
        self.bn_b = nn.BatchNorm2d(factor * growth)
        self.conv_b = nn.Conv2d(factor * growth, growth, 3, 1, 1, bias=False)
        self.drop = drop

    def forward(self, x):
        y = self.conv_b(F.relu(self.bn_b(self.conv_a(F.relu(self.bn_a(x))))))
        return F.dropout(y, self.drop, self.training) if self.drop > 0 else y


class LemurDenseBlock(nn.Module):
    def __init__(self, n, cin, growth, factor, drop):
        super().__init__()
        self.layers = nn.ModuleList(LemurDenseLayer(cin + i * growth, growth, factor, drop) for i in range(n))

    def forward(self, x):
        maps = [x]
        for layer in self.layers:
            maps.append(layer(torch.cat(maps, 1)))
        return torch.cat(maps, 1)


class LemurDenseNet(nn.Module):
    """DenseNet-121's body (growth 32, blocks 6/12/24/16, 64 stem features), dropout 0.2 in
    every layer, bottleneck factor 4 (LEMUR's file reads in_shape[0] there: a bug; the
    published hetero-MoE used 4). Kaiming-normal convs, zero linear bias, as LEMUR initialises."""

    def __init__(self, cin, size, classes, width, factor=4, drop=0.2):
        super().__init__()
        growth, c = lemur_width(32, width), lemur_width(64, width)
        layers = [nn.Conv2d(cin, c, 7, 2, 3, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                  nn.MaxPool2d(3, 2, 1)]
        for i, n in enumerate((6, 12, 24, 16)):
            layers.append(LemurDenseBlock(n, c, growth, factor, drop))
            c += n * growth
            if i < 3:
                layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False),
                           nn.AvgPool2d(2, 2)]
                c //= 2
        layers.append(nn.BatchNorm2d(c))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(c, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.features(x)), 1).flatten(1))


LEMUR_EXPERTS = {"AirNet": LemurAirNet, "AlexNet": LemurAlexNet, "BagNet": LemurBagNet, "DenseNet": LemurDenseNet}
CATALOGUES = {"adapted": ADAPTED_EXPERTS, "lemur": LEMUR_EXPERTS}
# LEMUR's counts at 3x32x32, 10 classes, width 1.0 (shared/LEMUR.md): --check-lemur checks them.
LEMUR_PARAMETERS = {"AirNet": 4905226, "AlexNet": 57044810, "BagNet": 1254890, "DenseNet": 6964106}

# ---- worker/moe/gate.cc, worker/moe/ensemble.cc ----------------------------------


class Gate(nn.Module):
    def __init__(self, cin, experts, temperature=2.0, noise_std=0.1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(cin, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(True),
            nn.Conv2d(64, 128, 3, 2, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(True))
        self.fc1 = nn.Linear(128, 64)
        self.dropout = nn.Dropout(0.1)
        self.fc2 = nn.Linear(64, experts)
        self.temperature = nn.Parameter(torch.full((1,), min(max(temperature, 0.5), 5.0)))
        self.noise_std = noise_std

    def forward(self, x):
        h = F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        logits = self.fc2(self.dropout(F.relu(self.fc1(h))))
        logits = logits / self.temperature.clamp(0.5, 5.0)
        if self.training and self.noise_std > 0:
            logits = logits + self.noise_std * torch.randn_like(logits)
        log_probs = F.log_softmax(logits, 1)
        return log_probs.exp(), log_probs  # dense softmax: weights == probs (top_k 0)

    def clamp_temperature(self):
        with torch.no_grad():
            self.temperature.clamp_(0.5, 5.0)


class MixtureOfExperts(nn.Module):
    def __init__(self, families, cin, size, classes, width, catalogue="adapted"):
        super().__init__()
        experts = CATALOGUES[catalogue]
        self.experts = nn.ModuleList(experts[f](cin, size, classes, width) for f in families)
        self.gate = Gate(cin, len(families))

    def forward(self, x):
        weights, log_probs = self.gate(x)
        expert_logits = torch.stack([e(x) for e in self.experts])  # [K, B, C]
        logits = (weights.t().unsqueeze(2) * expert_logits).sum(0)
        return logits, expert_logits, weights, log_probs


def count_parameters(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ---- worker/train/{recipe,schedule,losses}.cc: the design's recipe -----------------

RECIPE = dict(lr=1e-3, gate_lr_scale=2.0, weight_decay=5e-4, betas=(0.9, 0.999), warmup_epochs=5,
              warmup_start_factor=0.1, min_lr=1e-6, epochs=10, grad_clip_norm=1.0, mixup_alpha=0.2,
              label_smoothing=0.1, load_balance_weight=0.01)


def lr_at(t, r=RECIPE):
    if r["warmup_epochs"] > 0 and t < r["warmup_epochs"]:
        f = r["warmup_start_factor"]
        return r["lr"] * (f + (1 - f) * t / r["warmup_epochs"])
    if r["epochs"] <= r["warmup_epochs"]:
        return r["lr"]
    p = min(max((t - r["warmup_epochs"]) / (r["epochs"] - r["warmup_epochs"]), 0.0), 1.0)
    return r["min_lr"] + (r["lr"] - r["min_lr"]) * 0.5 * (1 + math.cos(math.pi * p))


def make_optimizer(model, r=RECIPE):
    gate_params = [p for n, p in model.gate.named_parameters() if n != "temperature"]
    gate_lr = r["gate_lr_scale"] * r["lr"]
    return torch.optim.AdamW([
        {"params": list(model.experts.parameters()), "lr": r["lr"], "weight_decay": r["weight_decay"]},
        {"params": gate_params, "lr": gate_lr, "weight_decay": r["weight_decay"] / 2},
        {"params": [model.gate.temperature], "lr": gate_lr, "weight_decay": 0.0},
    ], lr=r["lr"], betas=r["betas"])


def top1_counts(probs):
    """Per-expert top-1 counts as LoadBalanceLoss's scatter_add (bincount would read its max back on CUDA)."""
    top1 = probs.argmax(1)
    return torch.zeros(probs.size(1), dtype=probs.dtype, device=probs.device).scatter_add_(
        0, top1, torch.ones_like(top1, dtype=probs.dtype))


def load_balance(probs):
    k = probs.size(1)
    f = top1_counts(probs) / probs.size(0)  # a count: constant
    return k * (f * probs.mean(0)).sum()


class Amp:
    """How a step runs on its device: autocast to `precision` around the forward pass and the loss
    (nothing for fp32), fp16's GradScaler, and whether each step reads its loss back (the CPU, as
    the published loop did) or accumulates its finiteness on the device (CUDA; check() reads it)."""

    def __init__(self, device, precision):
        if precision == "fp16" and device.type != "cuda":
            raise SystemExit("pytorch_peer: --precision fp16 needs a CUDA device (as ours: fp16 is GPU only)")
        self.device_type = device.type
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.scaler = None
        if precision == "fp16":
            amp_scaler = getattr(torch.amp, "GradScaler", None)  # torch >= 2.3; torch.cuda.amp's before
            self.scaler = amp_scaler("cuda") if amp_scaler else torch.cuda.amp.GradScaler()
        self.sync_each_step = device.type != "cuda"
        self.bad = torch.zeros((), dtype=torch.bool, device=device)

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device_type, dtype=self.dtype)

    def check(self):
        if bool(self.bad):
            raise RuntimeError("non-finite training loss")


FP32 = None  # train_step's default: fp32, reading each loss back (the CPU peer as it was)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def peak_memory_bytes(device):
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def train_step(model, optimizer, x, ya, yb, lam, progress, amp=FP32, r=RECIPE):
    """One optimiser step, the body of Trainer::RunOrThrow's batch loop; `amp` (an Amp) for a device
    or a precision other than the CPU's fp32."""
    lr = lr_at(progress)
    for g, group in enumerate(optimizer.param_groups):
        group["lr"] = lr if g == 0 else r["gate_lr_scale"] * lr
    optimizer.zero_grad()
    with amp.autocast() if amp else contextlib.nullcontext():
        logits, expert_logits, weights, log_probs = model(x)
        logits, weights = logits.float(), weights.float()  # ours casts the outputs back before the loss
        s = r["label_smoothing"]
        loss = lam * F.cross_entropy(logits, ya, label_smoothing=s)
        if lam < 1.0:
            loss = loss + (1 - lam) * F.cross_entropy(logits, yb, label_smoothing=s)
        loss = loss + r["load_balance_weight"] * load_balance(weights)
    if amp is None or amp.sync_each_step:
        value = loss.item()  # the worker's NaN check; the published loop logged it
        if not math.isfinite(value):
            raise RuntimeError(f"non-finite training loss {value}")
    else:
        amp.bad |= ~torch.isfinite(loss.detach())
    if amp is not None and amp.scaler is not None:
        amp.scaler.scale(loss).backward()
        amp.scaler.unscale_(optimizer)  # clipping sees the true gradients
        torch.nn.utils.clip_grad_norm_(model.parameters(), r["grad_clip_norm"])
        amp.scaler.step(optimizer)
        amp.scaler.update()
    else:
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), r["grad_clip_norm"])
        optimizer.step()
    model.gate.clamp_temperature()
    return logits.detach(), loss.detach()


def mixup(x, y, alpha):
    if alpha <= 0:
        lam = 1.0
    elif np is not None:
        lam = float(np.random.beta(alpha, alpha))
    else:
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.size(0), device=x.device)
    return lam * x + (1 - lam) * x[perm], y, y[perm], lam


def eval_batch(model, x, y, acc):
    """What EvalAccumulator::Add accumulates (metrics.cc)."""
    logits, expert_logits, weights, log_probs = model(x)
    k = weights.size(1)
    acc["loss"] += F.cross_entropy(logits, y, reduction="sum").double()
    acc["correct"] += logits.argmax(1).eq(y).sum().double()
    acc["gate"] += weights.sum(0).double()
    acc["routes"] += top1_counts(weights).double()
    acc["expert"] += expert_logits.argmax(2).eq(y.unsqueeze(0)).sum(1).double()
    entropy = -(weights * weights.clamp_min(1e-12).log()).sum(1) / math.log(k)
    acc["entropy"] += entropy.sum().double()


def new_eval_acc(k, device="cpu"):
    z = torch.zeros((), dtype=torch.double, device=device)
    v = torch.zeros(k, dtype=torch.double, device=device)
    return {"loss": z.clone(), "correct": z.clone(), "gate": v.clone(), "routes": v.clone(), "expert": v.clone(),
            "entropy": z.clone()}


# ---- data: the published pipeline ------------------------------------------------


class UInt8Images(torch.utils.data.Dataset):
    """HWC uint8 images returned as PIL, as torchvision.datasets.CIFAR10 does."""

    def __init__(self, images, labels, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def make_data(n, size, classes, seed):
    """n HWC uint8 images and int64 labels: numpy arrays, or tensors without numpy."""
    if np is None:
        gen = torch.Generator().manual_seed(seed)
        return (torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=gen),
                torch.randint(0, classes, (n,), generator=gen))
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8),
            rng.integers(0, classes, n, dtype=np.int64))


# ---- measurements ----------------------------------------------------------------


def gemm_peak(n, repeats):
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)  # warm-up: BLAS thread start, page faults
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9


def forward_flops(model, size, batch=8):
    """Forward FLOPs per image: torch.profiler's count, and conv/linear MACs x 2 from hooks."""
    x = torch.randn(batch, 3, size, size)
    model.eval()
    hooked = [0]

    def hook(m, inputs, out):
        if isinstance(m, nn.Conv2d):
            per_out = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]
            hooked[0] += 2 * out.numel() * per_out
        elif isinstance(m, nn.Linear):
            hooked[0] += 2 * out.numel() * m.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                 with_flops=True) as prof:
        model(x)
    for h in handles:
        h.remove()
    model.train()
    profiled = sum(e.flops for e in prof.key_averages() if e.flops)
    return profiled / batch, hooked[0] / batch


def best_seconds(fn, repeats, device=torch.device("cpu")):
    """Seconds per call of fn, best of `repeats` after one untimed call (throughput_bench's BestSeconds)."""
    fn()
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def emit(result, path):
    text = json.dumps(result, indent=2)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    print(text)


def per_family(model, optimizer, x, y, repeats, amp=None, device=torch.device("cpu")):
    """(e) where a step's time goes: each expert alone, forward + cross-entropy + backward on the
    step's batch in training mode, then the AdamW step alone (on the last step's gradients)."""
    print(f"pytorch_peer: (e) per family, forward + backward, best of {repeats}", file=sys.stderr)
    optimizer_ms = 1000 * best_seconds(optimizer.step, repeats, device)  # first: below drops the experts' gradients
    ms = {}
    for family, expert in zip(FAMILIES, model.experts):
        def fwd_bwd():
            expert.zero_grad(set_to_none=True)
            with amp.autocast() if amp else contextlib.nullcontext():
                logits = expert(x).float()
            F.cross_entropy(logits, y).backward()
        ms[family] = 1000 * best_seconds(fwd_bwd, repeats, device)
    return {"forward_backward_ms": ms, "optimizer_ms": optimizer_ms}


def timed(fn, warmup, steps, device=torch.device("cpu")):
    """(wall, process CPU) seconds of `steps` calls after `warmup` calls, the device drained at both ends."""
    for _ in range(warmup):
        fn()
    sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        fn()
    sync(device)
    return time.perf_counter() - start, time.process_time() - cpu


def gemm_peak_on(device, dtype, n, repeats):
    """gemm_peak on a GPU in the step's dtype (the tensor cores' peak for bf16/fp16)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9


def tensor_batch(images, size, mean, std, device):
    """uint8 HWC images -> a normalised float batch on `device`, resized bilinearly to `size` as
    the worker resizes a batch: tensor operations only (no torchvision)."""
    x = torch.as_tensor(images).to(device).permute(0, 3, 1, 2).float().div_(255)
    x = (x - torch.tensor(mean, device=device).view(1, -1, 1, 1)) / torch.tensor(std, device=device).view(1, -1, 1, 1)
    if x.size(-1) != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x


def device_setup(device):
    """What a speed-minded PyTorch user sets on CUDA; returns the memory format for model and batches."""
    if device.type != "cuda":
        return torch.contiguous_format
    torch.cuda.set_device(device)
    torch.backends.cudnn.benchmark = True  # fixed shapes: autotune each convolution once
    return torch.channels_last


def device_info(device):
    info = {"device": str(device), "device_kind": device.type,
            "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
            "cudnn_allow_tf32": bool(torch.backends.cudnn.allow_tf32),
            "matmul_allow_tf32": bool(torch.backends.cuda.matmul.allow_tf32)}
    if device.type == "cuda":
        prop = torch.cuda.get_device_properties(device)
        info.update(device_name=prop.name, device_memory_mb=prop.total_memory // 2 ** 20,
                    capability=f"{prop.major}.{prop.minor}", cuda=torch.version.cuda,
                    cudnn=torch.backends.cudnn.version())
    return info


# ---- (b) of bench/gpu/run.sh: candidates one job at a time --------------------------


def random_crop(x, pad):
    """Per-image random crop with zero padding `pad` (the worker's augmentation), on x's device."""
    if pad == 0:
        return x
    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    return xp[torch.arange(b, device=x.device)[:, None, None, None], torch.arange(c, device=x.device)[None, :, None, None],
              rows, cols]


def run_candidates(a):
    """Trains each candidate of --candidates (a JSON list of family lists) in turn: a fresh model
    and optimiser, --epochs epochs over --train-images held on the device, a test pass."""
    device = torch.device(a.device)
    fmt = device_setup(device)
    with open(a.candidates) as f:
        candidates = json.load(f)
    size, classes, cin = a.image_size, a.classes, a.channels
    gen = torch.Generator().manual_seed(a.seed)
    # Fashion-MNIST-shaped data held on the device as uint8, normalised per batch as the worker does.
    train_x = torch.randint(0, 256, (a.train_images, cin, size, size), dtype=torch.uint8, generator=gen).to(device)
    train_y = torch.randint(0, classes, (a.train_images,), generator=gen).to(device)
    test_x = torch.randint(0, 256, (a.test_images, cin, size, size), dtype=torch.uint8, generator=gen).to(device)
    test_y = torch.randint(0, classes, (a.test_images,), generator=gen).to(device)
    mean, std = train_x.float().mean() / 255, train_x.float().std() / 255

    def norm(x):
        return ((x.float() / 255 - mean) / std).contiguous(memory_format=fmt)

    rows, start_all = [], time.perf_counter()
    for i, families in enumerate(candidates):
        start = time.perf_counter()
        torch.manual_seed(a.seed + i)
        model = MixtureOfExperts(families, cin, size, classes, a.width, a.catalogue).to(device, memory_format=fmt)
        optimizer = make_optimizer(model)
        amp = Amp(device, a.precision)
        n, steps_per_epoch = a.train_images, a.train_images // a.batch
        for epoch in range(a.epochs):
            model.train()
            order = torch.randperm(n, device=device)
            for step in range(steps_per_epoch):
                idx = order[step * a.batch:(step + 1) * a.batch]
                x = norm(random_crop(train_x[idx], a.pad))
                x, ya, yb, lam = mixup(x, train_y[idx], RECIPE["mixup_alpha"])
                train_step(model, optimizer, x, ya, yb, lam, epoch + step / steps_per_epoch, amp)
            model.eval()
            acc = new_eval_acc(len(families), device)
            with torch.no_grad(), amp.autocast():
                for b in range(0, a.test_images, a.eval_batch):
                    eval_batch(model, norm(test_x[b:b + a.eval_batch]), test_y[b:b + a.eval_batch], acc)
            sync(device)
            amp.check()
        seconds = time.perf_counter() - start
        rows.append({"families": families, "seconds": seconds, "params": count_parameters(model),
                     "test_accuracy": float(acc["correct"]) / a.test_images})
        print(f"pytorch_peer: candidate {i + 1}/{len(candidates)} {'+'.join(families)}: {seconds:.2f} s",
              file=sys.stderr)
        del model, optimizer
    wall = time.perf_counter() - start_all
    result = {"side": "pytorch", "mode": "candidates", "torch": torch.__version__,
              "config": {"catalogue": a.catalogue, "width": a.width, "batch": a.batch, "epochs": a.epochs,
                         "input": [cin, size, size], "classes": classes, "train_images": a.train_images,
                         "test_images": a.test_images, "precision": a.precision, "threads": a.threads},
              "machine": device_info(device), "candidates": rows, "seconds": wall,
              "candidates_per_hour": 3600 * len(rows) / wall if wall > 0 else 0,
              "peak_memory_bytes": peak_memory_bytes(device)}
    text = json.dumps(result, indent=2)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    print(text)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def blas_libraries():
    found = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line[line.find("/"):].strip() if "/" in line else ""
            name = os.path.basename(path)
            if any(s in name for s in ("blas", "lapack", "mkl")):
                found.add(path)
    return sorted(found)


def check_parameters(model, expect_path, catalogue, size):
    """Our count vs throughput_bench --describe's, per expert; exit 3 beyond 1 % (adapted) or on any
    difference (lemur: both sides claim LEMUR's exact networks); exit 2 when the describe is of
    another catalogue or input size."""
    with open(expect_path) as f:
        ours = json.load(f)
    theirs_setup = (ours.get("catalogue", "adapted"), ours.get("input", [3, 32, 32])[-1])
    if theirs_setup != (catalogue, size):
        print(f"pytorch_peer: {expect_path} describes catalogue {theirs_setup[0]} at {theirs_setup[1]}x"
              f"{theirs_setup[1]}, this run is {catalogue} at {size}x{size}", file=sys.stderr)
        sys.exit(2)
    tolerance = 0.0 if catalogue == "lemur" else 0.01
    rows = [(fam, ours["experts"][fam], count_parameters(e)) for fam, e in zip(FAMILIES, model.experts)]
    rows.append(("gate", ours["gate"], count_parameters(model.gate)))
    rows.append(("total", ours["params"], count_parameters(model)))
    print(f"{'parameters':<10} {'LibTorch':>12} {'PyTorch':>12} {'diff':>8}", file=sys.stderr)
    bad = []
    for name, theirs, mine in rows:
        diff = (mine - theirs) / max(theirs, 1)
        print(f"{name:<10} {theirs:>12,} {mine:>12,} {diff:>+8.2%}", file=sys.stderr)
        if abs(diff) > tolerance:
            bad.append(name)
    if bad:
        print(f"pytorch_peer: FAIL: parameter counts differ{' by more than 1%' if tolerance else ''} "
              f"({', '.join(bad)}): the port is not the same network; fix it before comparing speed",
              file=sys.stderr)
        sys.exit(3)


def check_lemur_counts():
    """This file's lemur ports against LEMUR's own counts (shared/LEMUR.md) at 3x32x32, 10 classes,
    width 1.0; AlexNet is only built (LEMUR's forward fails at 32x32 too). Exit 3 on a difference."""
    bad = []
    for family, expected in LEMUR_PARAMETERS.items():
        mine = count_parameters(LEMUR_EXPERTS[family](3, 32, 10, 1.0))
        print(f"{family:<10} LEMUR {expected:>12,}  port {mine:>12,}  {'ok' if mine == expected else 'DIFFERS'}")
        if mine != expected:
            bad.append(family)
    if bad:
        sys.exit(3)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--width", type=float, default=1.0, help="expert width multiplier (a real CIFAR campaign: 1.0)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--eval-batch", type=int, default=256, help="the trainer evaluates at max(batch, 256)")
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    p.add_argument("--warmup-steps", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="timed training steps for (a)")
    p.add_argument("--eval-batches", type=int, default=10, help="timed eval batches for (b)")
    p.add_argument("--train-images", type=int, default=10000, help="epoch size for (c)")
    p.add_argument("--test-images", type=int, default=2000, help="evaluated after the epoch in (c)")
    p.add_argument("--num-workers", type=int, default=0,
                   help="DataLoader worker processes (0: see the module docstring)")
    p.add_argument("--gemm-n", type=int, default=2048)
    p.add_argument("--gemm-repeats", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--catalogue", choices=sorted(CATALOGUES), default="adapted",
                   help="which networks the family ids build (adapted: worker/models/*.cc, lemur: LEMUR's)")
    p.add_argument("--image-size", type=int, default=32,
                   help="the networks' input side; the data are CIFAR-sized (32x32) and resized to it")
    p.add_argument("--per-family", action="store_true",
                   help="(e): forward + backward of each family alone and the AdamW step alone")
    p.add_argument("--check-lemur", action="store_true",
                   help="check the lemur ports' parameter counts against LEMUR's (shared/LEMUR.md) and stop")
    p.add_argument("--expect", help="throughput_bench --describe JSON: check parameter counts first")
    p.add_argument("--flops-only", action="store_true", help="check parameters, count FLOPs, print JSON, stop")
    p.add_argument("--json", help="write the figures here too")
    p.add_argument("--device", default="cpu", help="cpu | cuda | cuda:N")
    p.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32",
                   help="autocast dtype of the forward pass and the loss (fp16: GradScaler, CUDA only)")
    p.add_argument("--step-only", action="store_true",
                   help="measure (a) the training step only (tensor batch: no torchvision needed)")
    p.add_argument("--candidates", help="JSON list of family lists: train them one after another (see above)")
    p.add_argument("--channels", type=int, default=1, help="--candidates: image channels")
    p.add_argument("--classes", type=int, default=10, help="--candidates: classes")
    p.add_argument("--epochs", type=int, default=1, help="--candidates: epochs per candidate")
    p.add_argument("--pad", type=int, default=2, help="--candidates: random-crop padding (the worker's for synthetic)")
    a = p.parse_args()

    if a.check_lemur:
        check_lemur_counts()
        return
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    if np is not None:
        np.random.seed(a.seed)
    if a.candidates:
        run_candidates(a)
        return
    device = torch.device(a.device)
    fmt = device_setup(device)
    amp = Amp(device, a.precision)
    size, classes = a.image_size, 10
    model = MixtureOfExperts(FAMILIES, 3, size, classes, a.width, a.catalogue)
    if a.expect:
        check_parameters(model, a.expect, a.catalogue, size)
    flops = {"source": "not counted (--step-only)"}
    if not a.step_only:
        fwd_profiled, fwd_hooked = forward_flops(model, size)  # on the CPU, before the model moves
        flops = {"forward_per_image": fwd_profiled, "forward_per_image_hooks": fwd_hooked,
                 "train_per_image": 3 * fwd_profiled,
                 "source": "torch.profiler(with_flops=True) forward, eval mode; training step = 3x forward"}
    model = model.to(device, memory_format=fmt)
    result = {
        "side": "pytorch",
        "config": {"families": FAMILIES, "catalogue": a.catalogue, "width": a.width, "batch": a.batch, "eval_batch": a.eval_batch,
                   "input": [3, size, size], "classes": classes, "threads": a.threads,
                   "num_workers": a.num_workers, "device": str(device), "precision": a.precision,
                   "channels_last": fmt == torch.channels_last, "step_only": a.step_only},
        "machine": {"cores": os.cpu_count(), "torch": torch.__version__,
                    "torchvision": torchvision.__version__ if torchvision else None,
                    "python": sys.version.split()[0], "threads": torch.get_num_threads(),
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                    "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
                    "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                    "loadavg_before": loadavg()},
        "params": count_parameters(model),
        "flops": flops,
    }
    result["machine"].update(device_info(device))
    if a.flops_only:
        print(json.dumps(result))
        return

    if not a.step_only:
        gemm = (gemm_peak(a.gemm_n, a.gemm_repeats) if device.type != "cuda"
                else gemm_peak_on(device, amp.dtype or torch.float, a.gemm_n, a.gemm_repeats))
        result["gemm"] = {"n": a.gemm_n, "gflops": gemm}

    # (a) training step alone: one normalised, mixed-up batch in memory.
    model.train()
    optimizer = make_optimizer(model)
    # CIFAR-sized images, resized to the networks' side as a campaign's dataset.resize does
    # (ours: bilinear on the batch after crop and flip; here torchvision's Resize, bilinear, or
    # F.interpolate on the batch with --step-only or without torchvision).
    images, labels = make_data(a.batch, DATA_SIZE, classes, a.seed + 1)
    if a.step_only or T is None or np is None:
        x = tensor_batch(images, size, CIFAR_MEAN, CIFAR_STD, device)
    else:
        resize = [T.Resize(size)] if size != DATA_SIZE else []
        to_tensor = T.Compose(resize + [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)])
        x = torch.stack([to_tensor(Image.fromarray(im)) for im in images]).to(device)
    x = x.contiguous(memory_format=fmt)
    x, ya, yb, lam = mixup(x, torch.as_tensor(labels).to(device), RECIPE["mixup_alpha"])
    step = [0]

    def one_step():
        train_step(model, optimizer, x, ya, yb, lam, 5 + step[0] / 100, amp)  # mid-schedule
        step[0] += 1

    # On CUDA the warm-up steps also run cuDNN's autotuner.
    sec, cpu = timed(one_step, a.warmup_steps, a.steps, device)
    amp.check()
    result["train_step"] = {"steps": a.steps, "seconds": sec, "images_per_second": a.batch * a.steps / sec,
                            "ms_per_step": 1000 * sec / a.steps, "cpu_seconds": cpu,
                            "images_per_cpu_second": a.batch * a.steps / cpu,
                            "peak_memory_bytes": peak_memory_bytes(device),
                            "peak_memory_kind": "cuda_max_allocated" if device.type == "cuda" else "process_max_rss"}
    if amp.scaler is not None:  # below 2^16: the scaler skipped steps (each halves it)
        result["train_step"]["loss_scale"] = amp.scaler.get_scale()
    if a.per_family:
        result["per_family"] = per_family(model, optimizer, x, ya, a.steps, amp, device)
    if a.step_only:
        result["machine"]["loadavg_after"] = loadavg()
        emit(result, a.json)
        return

    # (b) evaluation, no grad.
    xe = torch.randn(a.eval_batch, 3, size, size, device=device).contiguous(memory_format=fmt)
    ye = torch.randint(classes, (a.eval_batch,), device=device)
    model.eval()
    acc = new_eval_acc(len(FAMILIES), device)
    with torch.no_grad(), amp.autocast():
        sec, cpu = timed(lambda: eval_batch(model, xe, ye, acc), 1, a.eval_batches, device)
    images = a.eval_batch * a.eval_batches
    result["eval"] = {"batches": a.eval_batches, "seconds": sec, "images_per_second": images / sec,
                      "cpu_seconds": cpu, "images_per_cpu_second": images / cpu}

    # (c) a whole epoch with data, a fresh model as a new job gets, then the test pass.
    if T is None or np is None:
        result["epoch"] = {"skipped": "torchvision or numpy missing: (c) is the published PIL pipeline"}
        result["machine"]["loadavg_after"] = loadavg()
        emit(result, a.json)
        return
    resize = [T.Resize(size)] if size != DATA_SIZE else []
    to_tensor = T.Compose(resize + [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)])
    train_set = UInt8Images(*make_data(a.train_images, DATA_SIZE, classes, a.seed + 2), T.Compose(
        [T.RandomCrop(DATA_SIZE, padding=4), T.RandomHorizontalFlip()] + resize +
        [T.ToTensor(), T.Normalize(CIFAR_MEAN, CIFAR_STD)]))
    test_set = UInt8Images(*make_data(a.test_images, DATA_SIZE, classes, a.seed + 3), to_tensor)
    # drop_last mirrors the worker, which only skips a final batch of one (BatchNorm).
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=a.batch, shuffle=True,
                                               num_workers=a.num_workers, drop_last=len(train_set) % a.batch == 1)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=a.eval_batch, num_workers=a.num_workers)
    cpu = time.process_time()  # the same span as ours: model build, epoch, test pass
    model = MixtureOfExperts(FAMILIES, 3, size, classes, a.width, a.catalogue).to(device, memory_format=fmt)
    optimizer = make_optimizer(model)
    amp = Amp(device, a.precision)
    model.train()
    start = time.perf_counter()
    seen, steps = 0, len(train_loader)
    loss_sum = torch.zeros((), dtype=torch.double, device=device)
    correct = torch.zeros((), dtype=torch.double, device=device)
    for i, (xb, yb_) in enumerate(train_loader):
        xb = xb.to(device, non_blocking=True).contiguous(memory_format=fmt)
        xb, ya_, yb2, lam_ = mixup(xb, yb_.to(device, non_blocking=True), RECIPE["mixup_alpha"])
        logits, loss = train_step(model, optimizer, xb, ya_, yb2, lam_, i / steps, amp)
        loss_sum += loss.double() * xb.size(0)  # TrainAccumulator::Add
        correct += logits.argmax(1).eq(ya_ if lam_ >= 0.5 else yb2).sum().double()
        seen += xb.size(0)
    sync(device)
    train_seconds = time.perf_counter() - start
    amp.check()
    model.eval()
    acc = new_eval_acc(len(FAMILIES), device)
    with torch.no_grad(), amp.autocast():
        for xb, yb_ in test_loader:
            eval_batch(model, xb.to(device).contiguous(memory_format=fmt), yb_.to(device), acc)
    sync(device)
    epoch_seconds = time.perf_counter() - start
    epoch_cpu = time.process_time() - cpu
    # Where the epoch's time goes: the same loader pass (with mixup) and no training.
    start = time.perf_counter()
    streamed = sum(mixup(xb, yb_, RECIPE["mixup_alpha"])[0].size(0) for xb, yb_ in train_loader)
    data_only = streamed / (time.perf_counter() - start)
    result["epoch"] = {"train_images": seen, "test_images": len(test_set), "train_seconds": train_seconds,
                       "images_per_second": seen / train_seconds, "epoch_seconds": epoch_seconds,
                       "train_loss": float(loss_sum) / max(seen, 1), "data_only_images_per_second": data_only,
                       "cpu_seconds": epoch_cpu, "images_per_cpu_second": seen / epoch_cpu}

    flops = result["flops"]["train_per_image"]
    result["train_step"]["gflops"] = result["train_step"]["images_per_second"] * flops / 1e9
    result["train_step"]["fraction_of_gemm_peak"] = result["train_step"]["gflops"] / result["gemm"]["gflops"]
    result["machine"]["blas"] = blas_libraries()
    result["machine"]["loadavg_after"] = loadavg()
    emit(result, a.json)


if __name__ == "__main__":
    main()

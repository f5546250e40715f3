#!/usr/bin/env python3
"""One training step of a learned bottleneck in PyTorch CPU autograd: the baseline bench:bottleneck compares against.

The model is the bottleneck + frozen tail exactly as impera trains it (src/bottlenecks/train.ts: BatchNorm with the
batch's statistics written as element-wise ops, the tail's weights as constants), run node by node with torch
functional ops (torch_autograd.py's, plus the bottleneck's); the bottleneck's weights are leaf tensors. One step:
forward, mean cross-entropy against the labels, backward to the weights, torch.optim.Adam.

  torch_bottleneck_step.py MODEL.onnx --inputs X.f32 --input-name NAME --shape N,C,H,W --labels 1,2,...
    --params PARAMS.json [--threads N] [--repeats N]

Prints one JSON line: the seconds of each step after a warm-up one, their median, and the loss of every step
(the same as impera's when both run the same step).
"""
import argparse
import json
import statistics
import time
from types import SimpleNamespace

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from torch_autograd import attrs, run_graph


def run_node(node, env):
    a = attrs(node)
    x = [env[i] if i else None for i in node.input]
    op = node.op_type
    if op == 'ConvTranspose':
        y = F.conv_transpose2d(x[0], x[1], x[2] if len(x) > 2 else None, stride=a.get('strides', [1, 1]), padding=a.get('pads', [0] * 4)[:2], output_padding=a.get('output_padding', [0, 0]), groups=a.get('group', 1))
    elif op in ('ReduceSum', 'ReduceMean'):
        axes = a.get('axes') or [int(v) for v in x[1].tolist()]
        y = (torch.sum if op == 'ReduceSum' else torch.mean)(x[0], dim=axes, keepdim=bool(a.get('keepdims', 1)))
    elif op == 'Sqrt':
        y = torch.sqrt(x[0])
    elif op == 'Identity':
        y = x[0]
    elif op == 'Transpose':
        y = x[0].permute(*a['perm'])
    else:
        run_graph(SimpleNamespace(node=[node]), env, set())
        return
    env[node.output[0]] = y


def main():
    p = argparse.ArgumentParser()
    p.add_argument('model')
    p.add_argument('--inputs', required=True)
    p.add_argument('--input-name', required=True)
    p.add_argument('--shape', required=True)
    p.add_argument('--labels', required=True)
    p.add_argument('--params', required=True)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--repeats', type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = onnx.load(args.model)
    consts = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    with open(args.params) as f:
        spec = json.load(f)
    params = {k: torch.tensor(v['values'], dtype=torch.float32).reshape(v['shape']).requires_grad_(True) for k, v in spec.items()}
    x = torch.from_numpy(np.fromfile(args.inputs, dtype=np.float32).reshape([int(d) for d in args.shape.split(',')]))
    labels = torch.tensor([int(v) for v in args.labels.split(',')])
    opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    out_name = model.graph.output[0].name

    def step():
        opt.zero_grad()
        env = {**consts, **params, args.input_name: x}
        for node in model.graph.node:
            run_node(node, env)
        loss = F.cross_entropy(env[out_name], labels)
        loss.backward()
        opt.step()
        return float(loss)

    times = []
    losses = []
    for i in range(args.repeats + 1):
        t0 = time.perf_counter()
        losses.append(step())
        if i > 0:
            times.append(time.perf_counter() - t0)  # the first step warms up
    print(json.dumps({'torch': torch.__version__, 'threads': args.threads, 'times': times, 'median_s': statistics.median(times), 'losses': losses}))


if __name__ == '__main__':
    main()

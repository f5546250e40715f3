#!/usr/bin/env python3
"""PyTorch CPU autograd on an ONNX model's own graph and weights: the baseline bench:saliency compares against.

The graph is executed node by node with torch functional ops (Conv, Relu, Clip, MaxPool, Add, GlobalAveragePool,
Flatten, Gemm, Sub, Div, Constant: the ops of the zoo's CNNs), so PyTorch computes exactly the same function as
the ONNX model, with the same (BatchNorm-folded) weights.

  torch_autograd.py MODEL.onnx --inputs X.f32 --labels 9,2,... --wrt t1,t2 [--threads N] [--repeats N] [--dump DIR]

Prints one JSON line: forward+backward seconds (and, for reference, forward-only seconds without autograd), peak RSS, and (with --dump) writes the input gradient.
"""
import argparse
import json
import resource
import statistics
import time

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def pad_spatial(x, pads, value=0.0):
    k = len(pads) // 2
    if not any(pads):
        return x
    # F.pad takes (last-dim begin, last-dim end, ...) in reverse axis order
    flat = []
    for i in reversed(range(k)):
        flat += [pads[i], pads[i + k]]
    return F.pad(x, flat, value=value)


def run_graph(graph, env, keep):
    for node in graph.node:
        a = attrs(node)
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == 'Constant':
            y = torch.from_numpy(numpy_helper.to_array(a['value']).copy())
        elif op in ('Sub', 'Div', 'Add', 'Mul'):
            y = {'Sub': torch.sub, 'Div': torch.div, 'Add': torch.add, 'Mul': torch.mul}[op](x[0], x[1])
        elif op == 'Relu':
            y = F.relu(x[0])
        elif op == 'Clip':
            y = torch.clamp(x[0], float(x[1]) if x[1] is not None else None, float(x[2]) if len(x) > 2 and x[2] is not None else None)
        elif op == 'Conv':
            pads = a.get('pads', [0] * 4)
            y = F.conv2d(pad_spatial(x[0], pads), x[1], x[2] if len(x) > 2 else None, stride=a.get('strides', [1, 1]), dilation=a.get('dilations', [1, 1]), groups=a.get('group', 1))
        elif op == 'MaxPool':
            pads = a.get('pads', [0] * 4)
            y = F.max_pool2d(pad_spatial(x[0], pads, value=-float('inf')), a['kernel_shape'], a.get('strides', a['kernel_shape']), ceil_mode=bool(a.get('ceil_mode', 0)))
        elif op == 'GlobalAveragePool':
            y = x[0].mean(dim=(2, 3), keepdim=True)
        elif op == 'Flatten':
            y = torch.flatten(x[0], a.get('axis', 1))
        elif op == 'Gemm':
            b = x[1].t() if a.get('transB', 0) else x[1]
            av = x[0].t() if a.get('transA', 0) else x[0]
            y = a.get('alpha', 1.0) * (av @ b)
            if len(x) > 2 and x[2] is not None:
                y = y + a.get('beta', 1.0) * x[2]
        else:
            raise SystemExit(f'torch_autograd.py: op {op} is not supported')
        out = node.output[0]
        if out in keep:
            y.retain_grad()
        env[out] = y
    return env


def main():
    p = argparse.ArgumentParser()
    p.add_argument('model')
    p.add_argument('--inputs', required=True, help='float32 [N,C,H,W] raw file')
    p.add_argument('--shape', required=True, help='N,C,H,W of --inputs')
    p.add_argument('--labels', required=True)
    p.add_argument('--wrt', default='')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--dump', default='')
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = onnx.load(args.model)
    weights = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}
    shape = [int(d) for d in args.shape.split(',')]
    x0 = torch.from_numpy(np.fromfile(args.inputs, dtype=np.float32).reshape(shape))
    labels = torch.tensor([int(v) for v in args.labels.split(',')])
    keep = set(t for t in args.wrt.split(',') if t)
    out_name = model.graph.output[0].name

    def step():
        x = x0.clone().requires_grad_(True)
        env = run_graph(model.graph, {**weights, model.graph.input[0].name: x}, keep)
        logits = env[out_name]
        logits.gather(1, labels[:, None]).sum().backward()
        return x, env

    times = [0.0]
    for i in range(args.repeats + 1):
        t0 = time.perf_counter()
        x, env = step()
        dt = time.perf_counter() - t0
        if i == 1:
            times = []
        if i > 0:
            times.append(dt)  # the first run warms up
    fwd_times = []
    with torch.no_grad():
        for i in range(args.repeats + 1):
            t0 = time.perf_counter()
            run_graph(model.graph, {**weights, model.graph.input[0].name: x0}, set())
            if i > 0:
                fwd_times.append(time.perf_counter() - t0)
    if args.dump:
        x.grad.numpy().astype(np.float32).tofile(f'{args.dump}/input_grad.f32')
        norms = {t: [float(v) for v in env[t].grad.flatten(1).norm(dim=1)] for t in keep}
        with open(f'{args.dump}/grad_norms.json', 'w') as f:
            json.dump(norms, f)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({'torch': torch.__version__, 'threads': args.threads, 'times': times, 'median_s': statistics.median(times), 'forward_times': fwd_times, 'peak_rss_mb': peak_mb}))


if __name__ == '__main__':
    main()

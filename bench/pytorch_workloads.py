"""PyTorch reference timings for `convkit bench`.

Reads the request JSON of src/bench/child.ts from argv[1] (the same
layer lists the TF.js backends run), builds each network with random
weights, warms up, times the repetitions and prints one JSON line:
{"backend": "pytorch", "threads": N, "results": {name: {...}}}.
Run with Debian's /usr/bin/python3 and python3-torch.
"""
import json
import os
import statistics
import sys
import time

try:
    import torch
    from torch import nn
except ImportError as exc:  # reported as "unavailable" by the caller
    print(json.dumps({"backend": "pytorch", "unavailable": f"torch not importable ({exc})", "results": {}}))
    sys.exit(0)


def build(workload):
    h, w, c = workload["input"]
    layers, frozen = [], []
    shape = (c, h, w)
    for spec in workload["layers"]:
        kind = spec["kind"]
        if kind == "conv":
            k = spec["kernel"]
            pad = k // 2 if spec["padding"] == "same" else 0
            conv = nn.Conv2d(shape[0], spec["filters"], k, padding=pad)
            layers.append(conv)
            if not spec["trainable"]:
                frozen.append(conv)
            if spec["activation"] == "relu":
                layers.append(nn.ReLU(inplace=True))
            lose = 0 if spec["padding"] == "same" else k - 1
            shape = (spec["filters"], shape[1] - lose, shape[2] - lose)
        elif kind == "maxpool":
            layers.append(nn.MaxPool2d(spec["size"]))
            shape = (shape[0], shape[1] // spec["size"], shape[2] // spec["size"])
        elif kind == "flatten":
            layers.append(nn.Flatten())
            shape = (shape[0] * shape[1] * shape[2],)
        elif kind == "dense":
            dense = nn.Linear(shape[0], spec["units"])
            layers.append(dense)
            if not spec["trainable"]:
                frozen.append(dense)
            layers.append(nn.ReLU(inplace=True) if spec["activation"] == "relu" else nn.Sigmoid())
            shape = (spec["units"],)
    model = nn.Sequential(*layers)
    for module in frozen:
        for p in module.parameters():
            p.requires_grad_(False)
    return model


def run(workload, opts):
    torch.manual_seed(1)
    model = build(workload)
    h, w, c = workload["input"]
    x = torch.rand(workload["batch"], c, h, w) * 255
    times = []
    if workload["mode"] == "forward":
        model.eval()
        with torch.no_grad():
            for r in range(opts["warmup"] + opts["reps"]):
                start = time.perf_counter()
                model(x)
                if r >= opts["warmup"]:
                    times.append(time.perf_counter() - start)
    else:
        y = torch.randint(0, 2, (workload["batch"], 1)).float()
        params = [p for p in model.parameters() if p.requires_grad]
        # Keras RMSprop defaults: rho 0.9, epsilon 1e-7.
        opt = torch.optim.RMSprop(params, lr=1e-4, alpha=0.9, eps=1e-7)
        loss_fn = nn.BCELoss()
        for r in range(opts["warmup"] + opts["reps"]):
            start = time.perf_counter()
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            loss.item()
            if r >= opts["warmup"]:
                times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    result = {
        "images_per_s": workload["batch"] / seconds,
        "gflops": workload["flops"] / seconds / 1e9,
        "seconds": seconds,
        "reps": len(times),
    }
    if workload.get("epochImages"):
        result["epoch_seconds"] = workload["epochImages"] / workload["batch"] * seconds
    return result


def main():
    request = json.loads(sys.argv[1])
    torch.set_num_threads(os.cpu_count() or 1)
    # Denormal gradients make oneDNN's convolution backward 10-20x slower here;
    # TensorFlow and convkit flush them to zero, so PyTorch does too.
    torch.set_flush_denormal(True)
    reply = {"backend": "pytorch", "threads": torch.get_num_threads(), "details": {"torch": torch.__version__}, "results": {}}
    for workload in request["workloads"]:
        opts = request["forward"] if workload["mode"] == "forward" else request["train"]
        if not request.get("quiet"):
            print(f"pytorch {workload['name']} ...", file=sys.stderr, flush=True)
        try:
            reply["results"][workload["name"]] = run(workload, opts)
        except Exception as exc:  # one failing workload must not hide the others
            reply["results"][workload["name"]] = {"error": str(exc).splitlines()[0]}
    print(json.dumps(reply))


if __name__ == "__main__":
    main()

"""PyTorch reference timings for `convkit bench`.

Reads the request JSON of src/bench/child.ts from argv[1] (the same
layer lists the TF.js backends run, and for the whole-model workloads the
Keras topology file every backend rebuilds), builds each network with random
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


def same_padding(size, kernel, stride):
    """TF's "same" output size and the symmetric padding that gives it in PyTorch.

    TF pads one pixel more at the bottom/right when the total is odd; PyTorch
    code pads both sides alike (e.g. a 3x3/2 convolution with padding=1). The
    output sizes are the same, and so is the work.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, (total + 1) // 2


def conv_out(size, kernel, stride, padding):
    if padding == "same":
        return same_padding(size, kernel, stride)
    return (size - kernel) // stride + 1, 0


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


ACTIVATIONS = {
    "linear": None,
    "relu": lambda: nn.ReLU(inplace=True),
    "relu6": lambda: nn.ReLU6(inplace=True),
    "sigmoid": nn.Sigmoid,
    "softmax": lambda: nn.Softmax(dim=1),
}


def with_activation(module, name):
    act = ACTIVATIONS[name or "linear"]
    return module if act is None else nn.Sequential(module, act())


class Lambda(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class KerasGraph(nn.Module):
    """A network from a Keras functional topology (model.toJSON of TF.js), NCHW."""

    def __init__(self, topology):
        super().__init__()
        config = topology.get("config", topology)
        self.order, self.inbound, self.kinds = [], {}, {}
        self.layers = nn.ModuleDict()
        shapes = {}  # layer name -> (C, H, W) or (units,)
        for layer in config["layers"]:
            cls, c, name = layer["class_name"], layer["config"], layer["name"]
            nodes = layer.get("inbound_nodes") or []
            sources = [n[0] for n in nodes[0]] if nodes else []
            self.inbound[name] = sources
            self.order.append(name)
            self.kinds[name] = cls
            if cls == "InputLayer":
                h, w, ch = c["batch_input_shape"][1:]
                shapes[name] = (ch, h, w)
                continue
            shape = shapes[sources[0]]
            module, out = self.module(cls, c, shape, [shapes[s] for s in sources])
            shapes[name] = out
            if module is not None:
                self.layers[name.replace(".", "_")] = module
        self.outputs = [o[0] for o in config["output_layers"]]

    @staticmethod
    def module(cls, c, shape, inputs):
        if cls in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
            ch, h, w = shape
            k, s = pair(c["kernel_size"]), pair(c["strides"])
            (oh, ph), (ow, pw) = conv_out(h, k[0], s[0], c["padding"]), conv_out(w, k[1], s[1], c["padding"])
            bias = c.get("use_bias", True)
            if cls == "Conv2D":
                out_ch = c["filters"]
                conv = nn.Conv2d(ch, out_ch, k, s, (ph, pw), bias=bias)
            elif cls == "DepthwiseConv2D":
                out_ch = ch * c.get("depth_multiplier", 1)
                conv = nn.Conv2d(ch, out_ch, k, s, (ph, pw), groups=ch, bias=bias)
            else:
                mid, out_ch = ch * c.get("depth_multiplier", 1), c["filters"]
                conv = nn.Sequential(nn.Conv2d(ch, mid, k, s, (ph, pw), groups=ch, bias=False), nn.Conv2d(mid, out_ch, 1, bias=bias))
            return with_activation(conv, c.get("activation")), (out_ch, oh, ow)
        if cls == "BatchNormalization":
            bn = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
            return bn(shape[0], eps=c["epsilon"], momentum=1 - c["momentum"]), shape
        if cls in ("MaxPooling2D", "AveragePooling2D"):
            ch, h, w = shape
            k = pair(c["pool_size"])
            s = pair(c.get("strides") or c["pool_size"])
            (oh, ph), (ow, pw) = conv_out(h, k[0], s[0], c["padding"]), conv_out(w, k[1], s[1], c["padding"])
            if cls == "MaxPooling2D":
                return nn.MaxPool2d(k, s, (ph, pw)), (ch, oh, ow)
            return nn.AvgPool2d(k, s, (ph, pw), count_include_pad=False), (ch, oh, ow)
        if cls == "GlobalAveragePooling2D":
            return Lambda(lambda x: x.mean((2, 3))), (shape[0],)
        if cls == "Flatten":
            return nn.Flatten(), (shape[0] * shape[1] * shape[2],) if len(shape) == 3 else shape
        if cls == "Dense":
            return with_activation(nn.Linear(shape[0], c["units"]), c.get("activation")), (c["units"],)
        if cls == "Dropout":
            return nn.Dropout(c["rate"]), shape
        if cls == "Rescaling":
            scale, offset = c["scale"], c["offset"]
            return Lambda(lambda x: x * scale + offset), shape
        if cls in ("Activation", "ReLU"):
            act = ACTIVATIONS[c.get("activation", "relu")]
            return (act() if act else None), shape
        if cls == "Add":
            return None, shape
        raise ValueError(f"layer class {cls} is not supported by the PyTorch bench")

    def forward(self, x):
        values = {}
        for name in self.order:
            kind, sources = self.kinds[name], self.inbound[name]
            if kind == "InputLayer":
                values[name] = x
            elif kind == "Add":
                total = values[sources[0]]
                for other in sources[1:]:
                    total = total + values[other]
                values[name] = total
            else:
                module = self.layers[name.replace(".", "_")] if name.replace(".", "_") in self.layers else None
                values[name] = module(values[sources[0]]) if module is not None else values[sources[0]]
        return values[self.outputs[0]]


def optimizer_for(workload, params):
    spec = workload.get("optimizer") or {"name": "rmsprop", "learningRate": 1e-4}
    # Keras's defaults: RMSprop rho 0.9, epsilon 1e-7; Adam epsilon 1e-7.
    if spec["name"] == "adam":
        return torch.optim.Adam(params, lr=spec["learningRate"], eps=1e-7)
    return torch.optim.RMSprop(params, lr=spec["learningRate"], alpha=0.9, eps=1e-7)


def run(workload, opts):
    torch.manual_seed(1)
    graph = "topology" in workload
    if graph:
        with open(workload["topology"], encoding="utf8") as f:
            model = KerasGraph(json.load(f))
        workload = {**workload, "mode": "train"}
    else:
        model = build(workload)
    h, w, c = workload["input"]
    x = torch.rand(workload["batch"], c, h, w) * 255
    if graph:
        # Channels-last is PyTorch's faster layout for these nets on CPU (oneDNN's NHWC kernels; depthwise
        # training steps take about half the time of NCHW's).
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
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
        model.train()
        opt = optimizer_for(workload, [p for p in model.parameters() if p.requires_grad])
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


def describe(path, height, width):
    """Trainable parameters and output shape of the network built from a topology file (for the tests)."""
    with open(path, encoding="utf8") as f:
        model = KerasGraph(json.load(f))
    out = model(torch.zeros(2, 3, height, width))
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    print(json.dumps({"trainable_params": params, "output_shape": list(out.shape)}))


def main():
    if sys.argv[1] == "--describe":
        describe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        return
    request = json.loads(sys.argv[1])
    torch.set_num_threads(request.get("threads") or os.cpu_count() or 1)
    # Denormal gradients make oneDNN's convolution backward 10-20x slower here;
    # TensorFlow and convkit flush them to zero, so PyTorch does too.
    torch.set_flush_denormal(True)
    reply = {"backend": "pytorch", "threads": torch.get_num_threads(), "details": {"torch": torch.__version__}, "results": {}}
    for workload in request["workloads"] + request.get("graphs", []):
        opts = request["forward"] if workload.get("mode") == "forward" else request["train"]
        if not request.get("quiet"):
            print(f"pytorch {workload['name']} ...", file=sys.stderr, flush=True)
        try:
            reply["results"][workload["name"]] = run(workload, opts)
        except Exception as exc:  # one failing workload must not hide the others
            reply["results"][workload["name"]] = {"error": str(exc).splitlines()[0]}
    print(json.dumps(reply))


if __name__ == "__main__":
    main()

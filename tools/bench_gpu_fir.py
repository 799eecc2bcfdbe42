"""GPU check for StyleGAN3 FIR variants (prepared by the models engineer; ~60-90 s on an H100/H200).

Run on the device machine from the repo root:  PYTHONPATH=. python3 gpu_fir.py $OUT/fir.json
Prints ms/frame of StyleGAN3-T 1024 (random weights) for precision fp32/auto x FIR_UP_MODE
transpose/polyphase, the max difference between the modes, and the top CUDA kernels.
"""
import json, sys, time
import torch
from livegan.models import ops
from livegan.models.official import random_official

def timeit(fn, n=10):
    for _ in range(3):
        fn()
    torch.cuda.synchronize(); t = time.perf_counter()
    for _ in range(n):
        fn()
    torch.cuda.synchronize(); return (time.perf_counter() - t) / n * 1000

dev = torch.device("cuda")
res = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
G = random_official("stylegan3-t", 1024, seed=0).to(dev)
z = torch.randn(1, 512, device=dev)
with torch.inference_mode():
    for prec in ("fp32", "auto"):
        G.set_precision(prec)
        imgs = {}
        for mode in ("transpose", "polyphase"):
            ops.FIR_UP_MODE = mode
            res[f"{prec}_{mode}_ms"] = round(timeit(lambda: G(z)), 2)
            imgs[mode] = G(z)
        res[f"{prec}_mode_maxdiff"] = float((imgs["transpose"] - imgs["polyphase"]).abs().max())
        print(res, flush=True)
    ops.FIR_UP_MODE = "transpose"
    G.set_precision("auto")
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as p:
        G(z); torch.cuda.synchronize()
    table = p.key_averages().table(sort_by="self_cuda_time_total", row_limit=15, max_name_column_width=70)
    print(table, flush=True)
    res["top_kernels"] = table
json.dump(res, open(sys.argv[1], "w"), indent=1)

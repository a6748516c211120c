"""bitsandbytes' generic 4-bit dequantize and matmul on the CPU, whatever CPU makes the references.

bitsandbytes 0.50 registers native CPU kernels when its CPU library loads, and on a CPU with AVX-512
some differ from the format's definition: dequantize_4bit there takes blocks within each row, so a
weight whose rows are shorter than the block (the qwen2 fixture's k_proj: 64 columns, blocksize 128)
dequantizes to other values than bitsandbytes' generic implementation and its CUDA kernels give, and the
AVX-512 BF16 path repacks a Linear4bit's weight on its first CPU forward for a native gemm that rounds
differently again. The references must not depend on the machine
that made them, so the scripts that make them import this module first: it sends dequantize_4bit,
gemv_4bit and gemm_4bit on the CPU to bitsandbytes' generic (CompositeExplicitAutograd) implementation,
the format as CUDA computes it, and tells Linear4bit the CPU has no AVX-512 BF16 (no repacking). Quantizing keeps bitsandbytes' CPU kernels: their bytes are the CUDA
kernels' (binary search over the code), where the generic argmin rounds some ties the other way.
"""
import warnings

import torch
import bitsandbytes  # noqa: F401  (registers the ops and their CPU kernels)
import bitsandbytes.nn.modules

_GENERIC = torch._C.DispatchKeySet(torch._C.DispatchKey.CompositeExplicitAutograd)
_OPS = ("dequantize_4bit", "gemv_4bit", "gemm_4bit")


def _use_generic_cpu_kernels():
    for name in _OPS:
        packet = getattr(torch.ops.bitsandbytes, name, None)
        if packet is None:
            continue

        def generic(*args, _overload=packet.default, **kwargs):
            return _overload.redispatch(_GENERIC, *args, **kwargs)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "overriding a previously registered kernel" is the point
            torch.library.register_kernel(f"bitsandbytes::{name}", "cpu", generic)


_use_generic_cpu_kernels()
bitsandbytes.nn.modules.has_avx512bf16 = lambda: False  # read by each Linear4bit as it is made

"""autograd_core: one reverse-mode autodiff engine for floats (Scalar) and numpy arrays (Tensor)."""

from . import backends, distributed, func, primitives
from .allocator import keep_freed_memory
from .anomaly import detect_anomaly
from .compile import CompileError, compile  # noqa: A004  (torch.compile)
from .engine import (
    backward,
    enable_grad,
    grad,
    is_grad_enabled,
    live_nodes,
    no_grad,
    set_grad_enabled,
)
from .errors import DeviceError, OpError, OpTypeError
from .function import Function, FunctionCtx
from .ops import *  # noqa: F403  (the functional API; names listed in ops.__all__)
from .ops import __all__ as _ops_all
from .random import default_generator, manual_seed
from .scalar import Scalar
from .tensor import (
    Tensor,
    as_tensor,
    from_numpy,
    get_default_dtype,
    set_default_dtype,
    tensor,
)
from .tracing import outside
from .viz import draw, render, to_dot
from .why import NoGradReason, why_no_grad

__version__ = "0.1.0"

__all__ = [
    "Scalar", "Tensor", "tensor", "as_tensor", "from_numpy", "set_default_dtype",
    "get_default_dtype",
    "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "live_nodes", "manual_seed", "default_generator", "primitives", "func", "distributed",
    "backends", "DeviceError",
    "Function",
    "FunctionCtx", "detect_anomaly", "draw", "render", "to_dot", "keep_freed_memory",
    "OpError", "OpTypeError", "compile", "CompileError", "outside", "why_no_grad",
    "NoGradReason", *_ops_all,
]

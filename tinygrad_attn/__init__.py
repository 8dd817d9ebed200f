"""tinygrad_attn: a tiny reverse-mode autograd engine on numpy, and the attention story
built on it.

>>> from tinygrad_attn import Tensor
>>> a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> b = a + a
>>> (b * b).sum().backward()
>>> a.grad                       # d/da sum((2a)^2) = 8a
array([ 8., 16., 24.], dtype=float32)
"""
from . import anomaly, checkpoint, functional, kernels, nn, ops, optim, random
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from .checkpoint import CheckpointError
from .gradcheck import GradcheckError, gradcheck
from .nn import clip_grad_norm_
from .random import manual_seed
from .tensor import (Function, Tensor, concat, is_grad_enabled, no_grad, scope, stack,
                     unbroadcast, where)

__all__ = ["Tensor", "Function", "no_grad", "is_grad_enabled", "concat", "stack", "where",
           "scope",
           "unbroadcast", "functional", "nn", "optim", "ops", "kernels", "checkpoint",
           "CheckpointError", "clip_grad_norm_", "manual_seed", "gradcheck", "GradcheckError",
           "anomaly", "detect_anomaly", "is_anomaly_enabled", "AnomalyError"]
__version__ = "0.1.0"

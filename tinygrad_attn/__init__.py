"""tinygrad_attn: a tiny reverse-mode autograd engine on numpy, and the attention story
built on it.

>>> from tinygrad_attn import Tensor
>>> a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> b = a + a
>>> (b * b).sum().backward()
>>> a.grad                       # d/da sum((2a)^2) = 8a
array([ 8., 16., 24.], dtype=float32)
"""
from . import (anomaly, autograd, checkpoint, functional, fused, heap, kernels, nn, ops, optim,
               random)
from .anomaly import AnomalyError, detect_anomaly, is_anomaly_enabled
from .autograd import Function, grad, unbroadcast
from .checkpoint import CheckpointError
from .gradcheck import GradcheckError, gradcheck
from .nn import clip_grad_norm_
from .random import manual_seed
from .grad_mode import enable_grad, is_grad_enabled, no_grad, scope, set_grad_enabled
from .tensor import Tensor, cat, concat, stack, where

__all__ = ["Tensor", "Function", "grad", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "cat", "concat", "stack", "where", "scope", "autograd", "fused",
           "random", "unbroadcast", "functional", "nn", "optim", "ops", "kernels", "checkpoint",
           "CheckpointError", "clip_grad_norm_", "manual_seed", "gradcheck", "GradcheckError",
           "anomaly", "detect_anomaly", "is_anomaly_enabled", "AnomalyError"]
__version__ = "0.1.0"

heap.apply_from_env()    # freed arrays stay in the heap for the next step (heap.py)

"""swapadmin's backend library: the swap contract and its plugins. No Django here."""

from .base import PAGE_SIZE, Fact, Parameter, SwapBackend, aligned_buffer
from .errors import (
    ActiveAreaError,
    BackendError,
    BusyError,
    HeaderError,
    KernelError,
    NoRoomError,
    UnsafeError,
    ValidationError,
    before_any_change,
)
from .policy import Policy
from .registry import get_backend_class, registry

__all__ = [
    "PAGE_SIZE",
    "ActiveAreaError",
    "BackendError",
    "BusyError",
    "Fact",
    "HeaderError",
    "KernelError",
    "NoRoomError",
    "Parameter",
    "Policy",
    "SwapBackend",
    "UnsafeError",
    "ValidationError",
    "aligned_buffer",
    "before_any_change",
    "get_backend_class",
    "registry",
]

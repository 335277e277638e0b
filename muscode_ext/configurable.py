"""``Part``: the base of MUSCode's configurable parts with a contract (queues, event buses).

A part owns its settings as traits (``c.RedisQueue.claim_after = 10``) and is built with
``parent=`` the application, so that configuration flows down to it, the way Jupyter
Server builds its managers. A part may also declare an abstract contract
(``abc.abstractmethod``): its metaclass is both traitlets' and ``abc``'s.
"""

from __future__ import annotations

import abc

from traitlets import MetaHasTraits
from traitlets.config import LoggingConfigurable


class PartMeta(abc.ABCMeta, MetaHasTraits):
    """The metaclass of a configurable class with abstract methods."""


class Part(LoggingConfigurable, metaclass=PartMeta):
    """A configurable part of MUSCode (see the module docstring)."""


__all__ = ["Part", "PartMeta"]

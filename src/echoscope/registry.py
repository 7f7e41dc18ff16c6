"""Extension by registration.

Loaders, action types, detectors and report sections register themselves in a
:class:`Registry`; the built-ins use the same mechanism a third party would::

    from echoscope.ingest import LOADERS

    @LOADERS.register
    class MyFormat(Loader):
        name = "my-format"
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from echoscope.errors import EchoscopeError, ParameterError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """A named collection of extensions; each has a unique ``name`` attribute."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, item: T) -> T:
        name = getattr(item, "name", None)
        if not isinstance(name, str) or not name:
            raise EchoscopeError(f"a {self.what} needs a non-empty string `name`")
        if name in self._items and self._items[name] is not item:
            raise EchoscopeError(f"{self.what} {name!r} is registered twice")
        self._items[name] = item
        return item

    def decorator(self) -> Callable[[T], T]:
        return self.register

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ParameterError(
                f"unknown {self.what} {name!r}; choose one of: {', '.join(self.names())}."
            ) from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)

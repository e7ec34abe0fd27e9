"""qa's errors: one root, a few kinds, one table of HTTP statuses, one message per kind.

Every error qa raises on purpose is a ``QAError`` of one kind, and its message names the thing
at fault:

- ``BadInput`` (also a ``ValueError``): a question, name, file or setting qa cannot take;
  ``TooLarge``, ``Unsupported`` and ``Unprocessable`` are kinds of it;
- ``NotFound`` (also a ``LookupError``): no knowledge base or document of that name;
- ``Conflict``: the request clashes with what is there (a name taken, nothing to build);
- ``Busy``: another build holds the lock; try again later;
- ``Unavailable``: the index cannot answer now (the store is down, or the index must be
  rebuilt); nothing was changed.

Callers catch ``QAError`` (or a kind), never the builtins: the REST API turns any of them into
``{"error": message}`` with ``http_status``; the chat and ``qa chat`` put ``title`` before the
message.
"""

from __future__ import annotations


class QAError(Exception):
    """The root of qa's errors (see the module docstring for the kinds)."""


class BadInput(QAError, ValueError):
    """Something given to qa that it cannot take: the message names it and says why."""


class BadSetting(BadInput):
    """A ``QA_*`` setting (or another configuration value) that qa cannot read."""


class TooLarge(BadInput):
    """Over a size limit."""


class Unsupported(BadInput):
    """A kind of file qa does not read, or content that does not match its name."""


class Unprocessable(BadInput):
    """Well formed, but qa cannot read it (a document that no longer decodes)."""


class NotFound(QAError, LookupError):
    """No such knowledge base or document."""


class Conflict(QAError):
    """Clashes with what is there: a name already taken, an empty corpus to build."""


class Busy(QAError):
    """Someone else holds what is needed (a build's lock); try again later."""


class Unavailable(QAError):
    """The index cannot answer now: the store is unreachable, or the index must be rebuilt."""


#: The HTTP status of each kind; an error takes the status of the first class of its MRO here.
HTTP_STATUS: dict[type[QAError], int] = {
    TooLarge: 413, Unsupported: 415, Unprocessable: 422, BadInput: 400, NotFound: 404,
    Conflict: 409, Busy: 409, Unavailable: 503, QAError: 500}

#: What the chat and ``qa chat`` put before the message of each kind.
TITLES: dict[type[QAError], str] = {
    BadInput: "无法回答这个问题", NotFound: "没有找到", Conflict: "无法完成",
    Busy: "正忙，请稍后再试", Unavailable: "知识库暂时不可用", QAError: "出错了"}


def _first(table: dict[type[QAError], object], error: QAError) -> object:
    return next(table[k] for k in type(error).__mro__ if k in table)  # type: ignore[index]


def http_status(error: QAError) -> int:
    """The HTTP status of ``error`` (``HTTP_STATUS``)."""
    return int(_first(HTTP_STATUS, error))  # type: ignore[call-overload]


def title(error: QAError) -> str:
    """What a person is told before ``error``'s message (``TITLES``)."""
    return str(_first(TITLES, error))

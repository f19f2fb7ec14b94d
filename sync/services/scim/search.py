"""Listing with `filter`, `startIndex` and `count` (RFC 7644 §3.4.2): scim2-models parses and
evaluates the filter; the comparisons the store can index (`eq` on `id`, `userName`,
`externalId`, joined by `and`) narrow what is read first, so an identity provider's
"does this user exist?" query reads one row, not the directory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scim2_models import Resource, SearchRequest
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
)

from sync.services.scim.resources import scim_errors

R = TypeVar("R", bound=Resource[Any])
T = TypeVar("T")
MAX_RESULTS = 1000  # a page never holds more (ServiceProviderConfig filter.maxResults)
# filter attribute -> the store's lookup keyword (sync.store.scim.user_records)
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
INDEXED = {"id": "ids", "username": "user_names", "externalid": "external_ids"}


@dataclass(frozen=True, slots=True)
class Listing(Generic[R]):
    total: int
    start_index: int
    resources: list[R]
    search: SearchRequest[Any]


def search_request(model: type[R], query: dict[str, str]) -> SearchRequest[Any]:
    """The query string as a SearchRequest; a filter it cannot parse is `invalidFilter`."""
    wanted = ("filter", "startIndex", "count", "attributes", "excludedAttributes")
    params = {k: v for k, v in query.items() if k in wanted}
    with scim_errors():
        return SearchRequest[model].model_validate(params)  # type: ignore[valid-type]


def narrowing(node: FilterNode | None) -> dict[str, set[str]]:
    """Store lookups every match must satisfy: {"ids" | "user_names" | "external_ids": values}."""
    if isinstance(node, Comparison) and node.op == CompareOperator.eq:
        key = _indexed(node.attr_path)
        if key and isinstance(node.value, str):
            return {key: {node.value}}
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        found: dict[str, set[str]] = {}
        for term in node.terms:
            for key, values in narrowing(term).items():
                found[key] = found[key] & values if key in found else values
        return found
    return {}


def _indexed(path: AttrPath) -> str | None:
    if path.sub_attr is not None or path.uri not in (None, CORE_USER):
        return None
    return INDEXED.get(path.attr.lower())


def paged(search: SearchRequest[Any], items: Sequence[T], load: Callable[[T], R]) -> Listing[R]:
    """Filters (loading every candidate) or, without a filter, loads only the page."""
    start = max(1, search.start_index or 1)
    count = MAX_RESULTS if search.count is None else max(0, min(search.count, MAX_RESULTS))
    if search.filter is None:
        window = items[start - 1 : start - 1 + count]
        return Listing(len(items), start, [load(item) for item in window], search)
    matched = [r for r in map(load, items) if search.filter.match(r)]
    return Listing(len(matched), start, matched[start - 1 : start - 1 + count], search)

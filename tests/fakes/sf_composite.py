"""Composite (``POST /services/data/vXX.X/composite``) of the fake Salesforce org.

Each subrequest is routed exactly as the same request sent alone would be (sf_rest.py):
its answer, or its error, becomes that subrequest's ``httpStatusCode`` and ``body``, in request
order. The whole composite is one API call (Salesforce: "the entire series of requests counts
as a single call toward your API limits"); subrequests are not counted.

* Limits as Salesforce's: at most 25 subrequests, at most 5 of them query operations (query,
  queryAll, next page). More answers HTTP 400 for the whole request with the body Salesforce
  sends for the first limit — one entry, ``referenceId`` null, ``LIMIT_EXCEEDED`` "The request
  can’t contain more than 25 operations." (the query limit's message is the fake's).
* ``allOrNone: true``: after a failure the later subrequests are not run, and every subrequest
  but the failed one answers 400 ``PROCESSING_HALTED`` (Salesforce rolls the earlier ones back;
  the fake keeps their writes, as it does for sObject Collections).
* A url outside ``/services/data/vXX.X/`` (or a resource composite does not serve: Bulk jobs,
  composite itself) answers that subrequest 404 ``NOT_FOUND``.
* Scripted faults with a status or error whose matcher matches a subrequest become its answer
  (delay and drop faults act on real HTTP requests only). References (``@{ref.id}``) are not
  resolved.
"""

from __future__ import annotations

import json
from http.client import HTTPMessage
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .sf_faults import Request
from .sf_org import ApiError
from .sf_rest import Reply, Rest, is_query

__all__ = ["composite", "MAX_SUBREQUESTS", "MAX_QUERIES"]

MAX_SUBREQUESTS = 25
MAX_QUERIES = 5
_HALTED = [{"errorCode": "PROCESSING_HALTED", "message": "The transaction was rolled back since "
                                                          "another operation in the same "
                                                          "transaction failed."}]


def _limit(message: str) -> Reply:
    return Reply(400, {"compositeResponse": [{
        "body": [{"errorCode": "LIMIT_EXCEEDED", "message": message}], "httpHeaders": {},
        "httpStatusCode": 400, "referenceId": None}]})


def _subrequest(item: dict[str, Any]) -> Request:
    parts = urlsplit(str(item["url"]))
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    headers = HTTPMessage()
    for name, value in (item.get("httpHeaders") or {}).items():
        headers[name] = str(value)
    body = item.get("body")
    raw = b"" if body is None else json.dumps(body).encode()
    return Request(str(item["method"]).upper(), parts.path, query, headers, raw)


def _rest_path(sub: Request) -> str | None:
    try:
        return Rest.match(sub.path)[1]
    except ApiError:
        return None


def composite(rest: Rest, req: Request, version: str) -> Reply:
    """Answer a composite request (see module doc)."""
    body = rest.body(req)
    items = body.get("compositeRequest")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest: a list of subrequests is "
                                                 "required")
    for item in items:
        if not isinstance(item, dict) or not all(item.get(k) for k in
                                                 ("method", "url", "referenceId")):
            raise ApiError(400, "JSON_PARSER_ERROR", "Each subrequest needs a method, a url "
                                                     "and a referenceId")
    if len(items) > MAX_SUBREQUESTS:
        return _limit(f"The request can’t contain more than {MAX_SUBREQUESTS} operations.")
    subs = [_subrequest(item) for item in items]
    paths = [_rest_path(sub) for sub in subs]
    if sum(1 for sub, path in zip(subs, paths, strict=True)
           if path and is_query(sub.method, path)) > MAX_QUERIES:
        return _limit(f"The request can’t contain more than {MAX_QUERIES} query operations.")
    all_or_none = bool(body.get("allOrNone"))
    answers: list[Reply] = []
    failed: int | None = None
    for sub, path in zip(subs, paths, strict=True):
        if failed is not None:
            answers.append(Reply(400, _HALTED))
            continue
        rest.subrequests.append(sub)
        answers.append(_answer(rest, sub, path))
        if all_or_none and answers[-1].status >= 400:
            failed = len(answers) - 1
    if failed is not None:
        answers = [a if k == failed else Reply(400, _HALTED) for k, a in enumerate(answers)]
    return Reply(200, {"compositeResponse": [
        {"body": a.payload, "httpHeaders": dict(a.headers), "httpStatusCode": a.status,
         "referenceId": item["referenceId"]} for item, a in zip(items, answers, strict=True)]})


def _answer(rest: Rest, sub: Request, path: str | None) -> Reply:
    fault = rest.org.faults.pick(sub, answers_only=True)
    if fault is not None:
        status, payload = fault.body()
        return Reply(status, payload, headers={"Retry-After": str(fault.retry_after)}
                     if fault.retry_after else {})
    if path is None or path == "/composite" or path.startswith("/jobs/"):
        return Reply(404, [{"errorCode": "NOT_FOUND",
                            "message": "The requested resource does not exist"}])
    try:
        reply = rest.route(sub, Rest.match(sub.path)[0], path)
    except ApiError as exc:
        reply = Reply.error(exc)
    if reply.raw is not None:  # not JSON: nothing composite could carry
        return Reply(404, [{"errorCode": "NOT_FOUND",
                            "message": "The requested resource does not exist"}])
    return reply

"""Benchmark: hubspot-api-client's model deserialisation versus ``json.loads`` on one page.

The HubSpot connector calls the client with ``_preload_content=False`` and parses the JSON
itself (crmsync_hubspot/client.py). This measures why: the same 200-record search page (deals
with 40 string properties each, as HubSpot sends them) served by a local HTTP server, fetched
through the official client both ways, and the parse step alone. Figures are ratios to the
raw path measured in the same run.

Usage::

    python bench/hubspot_deserialise.py            # 200 pages
    python bench/hubspot_deserialise.py --pages 20 # a quick run
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import hubspot
from hubspot.crm.objects import ApiClient


def page(records: int = 200, properties: int = 40) -> bytes:
    """A search page shaped like HubSpot's: every property value a string."""
    results = []
    for i in range(records):
        props = {f"prop_{p}": f"value {i} {p}" for p in range(properties)}
        props.update(amount="1200.50", hs_object_id=str(1000 + i), dealstage="closedwon",
                     hs_lastmodifieddate="2024-08-10T23:13:12.293Z",
                     createdate="2024-01-10T09:00:00.000Z")
        results.append({"id": str(1000 + i), "properties": props,
                        "createdAt": "2024-01-10T09:00:00.000Z",
                        "updatedAt": "2024-08-10T23:13:12.293Z", "archived": False,
                        "url": f"https://app.hubspot.com/contacts/1/record/0-3/{1000 + i}"})
    return json.dumps({"total": 10_000, "results": results,
                       "paging": {"next": {"after": "200"}}}).encode()


def serve(body: bytes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def timed(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    body = page()
    server = serve(body)
    host = f"http://127.0.0.1:{server.server_address[1]}"
    client = hubspot.Client.create(access_token="bench", host=host, retry=False)
    search = client.crm.objects.search_api  # keep the object: one ApiClient
    request = {"filterGroups": [], "limit": 200, "properties": ["amount"]}

    def models() -> Any:
        res = search.do_search("deals", request)
        return [r.properties["amount"] for r in res.results]

    def raw() -> Any:
        res = search.do_search("deals", request, _preload_content=False)
        return [r["properties"]["amount"] for r in json.loads(res.data)["results"]]

    class Body:
        data = body

    api_client = ApiClient()
    kind = "CollectionResponseWithTotalSimplePublicObjectForwardPaging"
    raw(), models()  # warm up
    t_raw = timed(raw, args.pages)
    t_models = timed(models, args.pages)
    t_json = timed(lambda: json.loads(body), args.pages)
    t_deser = timed(lambda: api_client.deserialize(Body, kind), args.pages)
    server.shutdown()
    kb = len(body) / 1024
    print(f"page: 200 records x 45 properties, {kb:.0f} KiB; {args.pages} pages each way")
    print(f"raw path (_preload_content=False + json.loads): {t_raw * 1000:8.2f} ms/page  (1.00)")
    print(f"model path (generated models):                  {t_models * 1000:8.2f} ms/page  "
          f"({t_models / t_raw:.2f}x raw)")
    print(f"parse only: json.loads {t_json * 1000:.2f} ms, models {t_deser * 1000:.2f} ms "
          f"({t_deser / t_json:.1f}x json.loads; models are "
          f"{(t_models - t_raw) / t_models:.0%} of the model path's time)")


if __name__ == "__main__":
    main()

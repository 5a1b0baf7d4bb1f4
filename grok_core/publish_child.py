"""The upload side of `grok_core.publish.publish`, run as `python -m grok_core.publish_child`.

A separate process so that the caller can kill it (cancel) and so that its huggingface_hub client
can have request timeouts without changing the caller's: huggingface_hub's default client waits
forever, so a server that accepts the connection and never answers would hang the upload.
Reads {"calls": [[HfApi method, kwargs], ...], "token", "endpoint", "timeout_s"} on stdin; prints
one JSON line: {"url": commit URL} or {"call", "timeout", "error", "message"}. Imports no torch.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.utils import _http, set_client_factory

    httpx = getattr(_http, "httpx2", None) or _http.httpx  # the HTTP library this huggingface_hub uses
    job = json.loads(sys.stdin.read())
    t = float(job["timeout_s"])
    set_client_factory(lambda: httpx.Client(event_hooks={"request": [_http.hf_request_event_hook]},
                                            follow_redirects=True, timeout=httpx.Timeout(t, connect=min(t, 10.0))))
    api = HfApi(token=job["token"], endpoint=job["endpoint"])
    call, result = "start", None
    try:
        for call, kwargs in job["calls"]:
            result = getattr(api, call)(**kwargs)
        answer = {"url": str(getattr(result, "commit_url", None) or getattr(result, "url", None) or result)}
    except Exception as e:  # huggingface_hub's own message is the useful one
        timeout = any(isinstance(x, httpx.TimeoutException) for x in (e, e.__cause__, e.__context__))
        answer = {"call": call, "timeout": timeout, "error": type(e).__name__, "message": str(e).strip()[:500]}
    print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
